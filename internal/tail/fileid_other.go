//go:build !unix

package tail

import "os"

// sysID returns zeros where the platform has no device and inode numbers:
// a FileID then rests on the file's first bytes alone.
func sysID(os.FileInfo) (dev, ino uint64) { return 0, 0 }
