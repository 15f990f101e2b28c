package cnn

import (
	"strings"
	"sync"
)

// guard stops a handle from being freed while a call uses it, and a
// network or optimizer from being used by two calls at once (cnn.h: one
// handle, one thread at a time).  Close on a handle in use (from a
// training callback, or another goroutine) is deferred until the call
// returns, instead of freeing memory the call is using.
type guard struct {
	mu      sync.Mutex
	users   int
	closing bool
}

// enter registers a call; an error if the handle is closed, or if it is
// exclusive and already in use.
func (g *guard) enter(closed bool, exclusive bool, what string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if closed || g.closing {
		return &Error{Status: StatusInvalid, Message: what + " is closed"}
	}
	if exclusive && g.users > 0 {
		return &Error{Status: StatusState, Message: what + " is in use by another call " +
			"(another goroutine, or a callback of a call running on it); use one per goroutine (Net.Clone)"}
	}
	g.users++
	return nil
}

// leave ends a call; true if a deferred Close must now free the handle.
func (g *guard) leave() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.users--
	if g.users == 0 && g.closing {
		g.closing = false
		return true
	}
	return false
}

// closeNow is true if Close may free the handle now; otherwise the free
// happens when the running call leaves.
func (g *guard) closeNow() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.users > 0 {
		g.closing = true
		return false
	}
	return true
}

// cPath refuses a path with a NUL byte: C would read it as the end of the
// name (Save("x\x00y") would write "x").
func cPath(path string) error {
	if strings.IndexByte(path, 0) >= 0 {
		return &Error{Status: StatusInvalid, Message: "path contains a NUL byte: " + strings.ReplaceAll(path, "\x00", `\x00`)}
	}
	return nil
}
