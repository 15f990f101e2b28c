// A program outside the binding's module that imports it by its module
// path, as a user's would; the replace directive stands in for fetching
// it (scripts/test-installed runs it with GOPROXY=off).
module example.com/cnnconsumer

go 1.19

require github.com/libcnn/libcnn/bindings/go v0.0.0

replace github.com/libcnn/libcnn/bindings/go => ../../bindings/go
