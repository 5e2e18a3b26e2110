//go:build !unix

package keys

import (
	"context"
	"errors"
	"os"
)

// lockFile: without flock, processes cannot share a FileStore safely, so
// it refuses to work rather than risk two processes creating one version.
func lockFile(context.Context, *os.File, bool) error {
	return errors.New("the file store needs flock (a Unix system); use PostgreSQL")
}

func unlockFile(*os.File) {}
