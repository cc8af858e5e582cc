package agent

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// versionPrefix is the start of t's version file names: <vault>.<name>.
func (t *Target) versionPrefix() string { return t.Secret.VaultName + "." + t.Secret.Name + "." }

// ReadInstalled returns the version t's link points to, read from disk, or
// nil when there is none (no link yet, or a link to a missing or unreadable
// file, which the next install replaces).
func (t *Target) ReadInstalled() (*Installed, error) {
	target, err := os.Readlink(t.LinkPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the link %s: %w", t.LinkPath, err)
	}
	file := target
	if !filepath.IsAbs(file) {
		file = filepath.Join(t.Dir, target)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil
	}
	var leaf *x509.Certificate
	for rest := data; leaf == nil; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil, nil
		}
		if b.Type == "CERTIFICATE" {
			if leaf, err = x509.ParseCertificate(b.Bytes); err != nil {
				return nil, nil
			}
		}
	}
	version := ""
	if v, ok := strings.CutPrefix(filepath.Base(target), t.versionPrefix()); ok && versionName.MatchString(v) {
		version = v
	}
	return &Installed{Version: version, NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter,
		Serial: leaf.SerialNumber.Text(16), File: file}, nil
}

// intact reports whether t's link still leads to the installed version's
// file (one stat: the cheap check of each poll; a removed file or link is
// rewritten).
func (t *Target) intact(in *Installed) bool {
	fi, err := os.Stat(t.LinkPath)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	want, err := os.Stat(in.File)
	return err == nil && os.SameFile(fi, want)
}

// install writes c as t's current version (C.6): the version file, the
// extra formats, the formats' current link, then t's link, each swapped
// atomically; the directory is synced and older versions pruned. Nothing
// that was installed before is touched until the new files are complete,
// and a failure leaves the previous version current.
func (t *Target) install(c *Candidate) (*Installed, error) {
	grants, err := resolveACLs(t.ACLs)
	if err != nil {
		return nil, err
	}
	if _, err := ensureDir(t.Dir, 0o700, -1, -1); err != nil {
		return nil, err
	}
	content, err := layoutPEM(c, t.WithChain)
	if err != nil {
		return nil, err
	}
	spec := fileSpec{mode: t.Mode, uid: t.uid, gid: t.gid, acl: grants}
	name := t.versionPrefix() + c.Version
	if err := writeAtomic(t.Dir, name, content, spec); err != nil {
		return nil, err
	}
	if len(t.Formats) > 0 {
		if err := t.installFormats(c, spec); err != nil {
			return nil, err
		}
	}
	if err := swapSymlink(t.Dir, t.LinkName, name); err != nil {
		return nil, err
	}
	if err := syncDir(t.Dir); err != nil {
		return nil, err
	}
	if len(grants) > 0 {
		if err := grantTraversal(t.Dir, grants); err != nil {
			return nil, err
		}
	}
	return &Installed{Version: c.Version, NotBefore: c.Leaf.NotBefore, NotAfter: c.Leaf.NotAfter,
		Serial: c.Leaf.SerialNumber.Text(16), File: filepath.Join(t.Dir, name)}, nil
}

// installFormats writes the extra formats into FormatsDir/<version>/ and
// points FormatsDir/current at it.
func (t *Target) installFormats(c *Candidate, spec fileSpec) error {
	dmode := dirModeFor(t.Mode)
	if _, err := ensureDir(t.FormatsDir, dmode, t.uid, t.gid); err != nil {
		return err
	}
	vdir := filepath.Join(t.FormatsDir, c.Version)
	if _, err := ensureDir(vdir, dmode, t.uid, t.gid); err != nil {
		return err
	}
	for _, f := range t.Formats {
		data, err := renderFormat(c, f)
		if err != nil {
			return err
		}
		if err := writeAtomic(vdir, f, data, spec); err != nil {
			return err
		}
	}
	if err := syncDir(vdir); err != nil {
		return err
	}
	if len(spec.acl) > 0 {
		if err := setACL(vdir, spec.acl, true); err != nil {
			return err
		}
		if err := grantTraversal(t.FormatsDir, spec.acl); err != nil {
			return err
		}
	}
	if err := swapSymlink(t.FormatsDir, "current", c.Version); err != nil {
		return err
	}
	return syncDir(t.FormatsDir)
}

// upToDate reports whether the files of the installed version c are what
// the settings ask for now: the version file's content (it changes with
// the schema form, C.8), its mode, and every extra format present. The
// agent checks this once per start and rewrites what differs.
func (t *Target) upToDate(c *Candidate, in *Installed) bool {
	want, err := layoutPEM(c, t.WithChain)
	if err != nil || in == nil || in.File != filepath.Join(t.Dir, t.versionPrefix()+c.Version) {
		return false
	}
	got, err := os.ReadFile(in.File)
	if err != nil || !bytes.Equal(got, want) {
		return false
	}
	if fi, err := os.Stat(in.File); err != nil || fi.Mode().Perm() != t.Mode.Perm() {
		return false
	}
	if len(t.Formats) > 0 {
		if cur, err := os.Readlink(filepath.Join(t.FormatsDir, "current")); err != nil || cur != c.Version {
			return false
		}
		for _, f := range t.Formats {
			if _, err := os.Stat(filepath.Join(t.FormatsDir, c.Version, f)); err != nil {
				return false
			}
		}
	}
	return true
}

// prune removes t's versions beyond the current one and Retain previous
// ones (by modification time, newest kept), older extra-format directories
// likewise, and temporary files left by an interrupted install. It returns
// the paths removed.
func (t *Target) prune(current string) ([]string, error) {
	var removed []string
	var errs []error
	entries, err := os.ReadDir(t.Dir)
	if err != nil {
		return nil, err
	}
	prefix := t.versionPrefix()
	var old []fs.FileInfo
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "."+prefix) && strings.Contains(n, ".tmp-") ||
			strings.HasPrefix(n, "."+t.LinkName+".tmp-") {
			if os.Remove(filepath.Join(t.Dir, n)) == nil {
				removed = append(removed, filepath.Join(t.Dir, n))
			}
			continue
		}
		v, ok := strings.CutPrefix(n, prefix)
		if !ok || !versionName.MatchString(v) || v == current || !e.Type().IsRegular() {
			continue
		}
		if fi, err := e.Info(); err == nil {
			old = append(old, fi)
		}
	}
	for _, fi := range beyond(old, t.Retain) {
		p := filepath.Join(t.Dir, fi.Name())
		if err := os.Remove(p); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, p)
	}
	if len(t.Formats) > 0 {
		if entries, err := os.ReadDir(t.FormatsDir); err == nil {
			var dirs []fs.FileInfo
			for _, e := range entries {
				if e.IsDir() && versionName.MatchString(e.Name()) && e.Name() != current {
					if fi, err := e.Info(); err == nil {
						dirs = append(dirs, fi)
					}
				} else if strings.HasPrefix(e.Name(), ".current.tmp-") {
					os.Remove(filepath.Join(t.FormatsDir, e.Name()))
				}
			}
			for _, fi := range beyond(dirs, t.Retain) {
				p := filepath.Join(t.FormatsDir, fi.Name())
				if err := os.RemoveAll(p); err != nil {
					errs = append(errs, err)
					continue
				}
				removed = append(removed, p)
			}
		}
	}
	if len(removed) > 0 {
		errs = append(errs, syncDir(t.Dir))
	}
	return removed, errors.Join(errs...)
}

// beyond returns the files past the keep newest, newest first by
// modification time, then by name.
func beyond(files []fs.FileInfo, keep int) []fs.FileInfo {
	sort.Slice(files, func(i, j int) bool {
		if !files[i].ModTime().Equal(files[j].ModTime()) {
			return files[i].ModTime().After(files[j].ModTime())
		}
		return files[i].Name() > files[j].Name()
	})
	if len(files) <= keep {
		return nil
	}
	return files[keep:]
}
