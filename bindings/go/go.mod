module libcnn

go 1.19
