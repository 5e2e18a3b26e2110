//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package broker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockName is the lock file in the data directory.
const lockName = "broker.lock"

// dirLock holds an exclusive flock on the data directory's lock file. The
// kernel releases it when the process dies, so a crash leaves no stale lock.
type dirLock struct{ f *os.File }

func lockDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("broker: lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked (is another `spine dev` running?)", ErrDataDirInUse, dir)
		}
		return nil, fmt.Errorf("broker: lock %s: %w", path, err)
	}
	return &dirLock{f}, nil
}

// release drops the lock; closing the file releases the flock.
func (l *dirLock) release() error { return l.f.Close() }
