module github.com/libcnn/libcnn/bindings/go

go 1.19
