package cnn

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
)

func TestLimits(t *testing.T) {
	n := smallNet(t)
	defer n.Close()
	def := must(n.Limits())
	if def.MaxParamBytes != 2<<30 || def.MaxWorkspaceBytes != 1<<30 || def.MaxFlops != 1e11 {
		t.Fatalf("default limits %+v", def)
	}
	// 4 bytes a parameter: the least MaxParamBytes this model loads with.
	params := n.ParamCount() * 4
	b := must(n.Bytes())
	if _, err := NetFromBytesLimited(b, Limits{MaxParamBytes: params - 1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a limit one byte short: %v", err)
	}
	ok := must(NetFromBytesLimited(b, Limits{MaxParamBytes: params}))
	defer ok.Close()
	if got := must(ok.Limits()); got.MaxParamBytes != params || got.MaxFlops != def.MaxFlops {
		t.Fatalf("loaded net keeps %+v", got)
	}
	path := filepath.Join(t.TempDir(), "m.cnn")
	if err := n.Save(path); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadNetLimited(path, Limits{MaxFlops: 1000}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("1000 operations: %v", err)
	}
	loaded := must(LoadNetLimited(path, Limits{}))
	defer loaded.Close()
	if !reflect.DeepEqual(loaded.Params(), n.Params()) {
		t.Fatal("LoadNetLimited with the defaults changed the model")
	}

	// Add enforces the network's limits.
	small := must(NewNet(1, 28, 28, 1))
	defer small.Close()
	if err := small.SetLimits(Limits{MaxParamBytes: 1000}); err != nil {
		t.Fatal(err)
	}
	if err := small.Add(must(NewDense(100, ReLU, 0))); !errors.Is(err, ErrInvalid) || small.Len() != 0 {
		t.Fatalf("78500 parameters past a 1000-byte limit: %v", err)
	}
	if err := small.SetLimits(Limits{MaxFlops: -1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("limit -1: %v", err)
	}
	if _, err := LoadNetLimited("x\x00y", Limits{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("NUL path: %v", err)
	}
}
