package agent

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// fileSpec is how a written file is owned and protected.
type fileSpec struct {
	mode     fs.FileMode
	uid, gid int // -1: unchanged
	acl      []aclGrant
}

// tempName returns ".<name>.tmp-<random>", the agent's temporary names.
func tempName(name string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "." + name + ".tmp-" + hex.EncodeToString(b[:])
}

// writeAtomic writes data to dir/name so that a reader sees the old file or
// the new one, never part of one (C.6): a temporary file in dir is written,
// synced, given its mode, owner and ACLs, then renamed over dir/name. The
// directory itself is synced by the caller once all renames are done.
func writeAtomic(dir, name string, data []byte, spec fileSpec) (err error) {
	tmp := filepath.Join(dir, tempName(name))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Join(dir, name), err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", tmp, err)
	}
	if err = f.Chmod(spec.mode); err != nil {
		return fmt.Errorf("setting the mode of %s: %w", tmp, err)
	}
	if spec.uid >= 0 || spec.gid >= 0 {
		if err = f.Chown(spec.uid, spec.gid); err != nil {
			return fmt.Errorf("setting the owner of %s: %w", tmp, err)
		}
	}
	if len(spec.acl) > 0 {
		if err = setACL(tmp, spec.acl, false); err != nil {
			return err
		}
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("renaming into %s: %w", filepath.Join(dir, name), err)
	}
	return nil
}

// swapSymlink points dir/link at target (a name relative to dir) in one
// step: a symbolic link is made under a temporary name and renamed over the
// old one, so that dir/link always exists once it has been made once.
func swapSymlink(dir, link, target string) error {
	tmp := filepath.Join(dir, tempName(link))
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("making the link %s: %w", filepath.Join(dir, link), err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, link)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("moving the link %s: %w", filepath.Join(dir, link), err)
	}
	return nil
}

// syncDir makes the renames in dir durable. Windows cannot sync a directory.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing the directory %s: %w", dir, err)
	}
	return nil
}

// ensureDir makes dir with mode (its missing parents 0755) unless it exists,
// and reports whether it made it. An existing directory is left as it is.
func ensureDir(dir string, mode fs.FileMode, uid, gid int) (bool, error) {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return false, nil
	case err == nil:
		return false, fmt.Errorf("%s exists and is not a directory", dir)
	case !errors.Is(err, fs.ErrNotExist):
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return false, fmt.Errorf("making %s: %w", filepath.Dir(dir), err)
	}
	if err := os.Mkdir(dir, mode); err != nil && !errors.Is(err, fs.ErrExist) {
		return false, fmt.Errorf("making %s: %w", dir, err)
	}
	if err := os.Chmod(dir, mode); err != nil { // the umask may have narrowed it
		return true, fmt.Errorf("setting the mode of %s: %w", dir, err)
	}
	if uid >= 0 || gid >= 0 {
		if err := os.Chown(dir, uid, gid); err != nil {
			return true, fmt.Errorf("setting the owner of %s: %w", dir, err)
		}
	}
	return true, nil
}

// dirModeFor returns the mode of a directory holding files of mode m: the
// same read bits, with search (x) where read is granted.
func dirModeFor(m fs.FileMode) fs.FileMode {
	m &= 0o777
	return m | (m&0o444)>>2
}
