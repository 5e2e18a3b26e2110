//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package broker

// dirLock is a no-op where flock is unavailable: there, two brokers on one
// data directory are not prevented, and would corrupt it.
type dirLock struct{}

func lockDir(string) (*dirLock, error) { return &dirLock{}, nil }

func (*dirLock) release() error { return nil }
