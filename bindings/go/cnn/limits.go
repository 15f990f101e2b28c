package cnn

// #include <cnn.h>
// #include <stdlib.h>
import "C"

import (
	"runtime"
	"unsafe"
)

// Limits bound what a network may cost (cnn_load_limits): checked by the
// model reader before it allocates anything, and by Add as a network grows.
// A zero field keeps the library's default: 2 GiB of parameters and state,
// 1 GiB of workspace and 1e11 operations per example.
type Limits struct {
	MaxParamBytes, MaxWorkspaceBytes, MaxFlops int64
}

// cLimits is l over the library's defaults.
func (l Limits) cLimits() C.cnn_load_limits {
	var c C.cnn_load_limits
	C.cnn_load_limits_init(&c, C.sizeof_cnn_load_limits)
	for _, f := range []struct {
		dst *C.int64_t
		v   int64
	}{{&c.max_param_bytes, l.MaxParamBytes}, {&c.max_workspace_bytes, l.MaxWorkspaceBytes}, {&c.max_flops, l.MaxFlops}} {
		if f.v != 0 {
			*f.dst = C.int64_t(f.v)
		}
	}
	return c
}

// LoadNetLimited is LoadNet with other limits (a model past the defaults
// loads only this way); the network keeps them for later Adds.  A model
// crossing a limit gives StatusInvalid with a message naming it.
func LoadNetLimited(path string, l Limits) (*Net, error) {
	if err := cPath(path); err != nil {
		return nil, err
	}
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	c := l.cLimits()
	return newNet(func(out **C.cnn_net) C.cnn_status { return C.cnn_net_load_limited(cp, &c, out) })
}

// NetFromBytesLimited is NetFromBytes with other limits.
func NetFromBytesLimited(b []byte, l Limits) (*Net, error) {
	if len(b) == 0 {
		b = []byte{0} // a valid pointer; the library rejects the content
	}
	c := l.cLimits()
	return newNet(func(out **C.cnn_net) C.cnn_status {
		return C.cnn_net_load_buffer_limited(unsafe.Pointer(&b[0]), C.size_t(len(b)), &c, out)
	})
}

// SetLimits sets the limits Add enforces from now on; layers already added
// stay.  Negative values give StatusInvalid.
func (n *Net) SetLimits(l Limits) error {
	if err := n.enter(); err != nil {
		return err
	}
	defer n.leave()
	defer runtime.KeepAlive(n)
	c := l.cLimits()
	return call(func() C.cnn_status { return C.cnn_net_set_limits(n.ptr, &c) })
}

// Limits are the network's limits.
func (n *Net) Limits() (Limits, error) {
	if err := n.enter(); err != nil {
		return Limits{}, err
	}
	defer n.leave()
	defer runtime.KeepAlive(n)
	var c C.cnn_load_limits
	C.cnn_load_limits_init(&c, C.sizeof_cnn_load_limits)
	if err := call(func() C.cnn_status { return C.cnn_net_get_limits(n.ptr, &c) }); err != nil {
		return Limits{}, err
	}
	return Limits{int64(c.max_param_bytes), int64(c.max_workspace_bytes), int64(c.max_flops)}, nil
}
