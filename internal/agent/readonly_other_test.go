//go:build !linux

package agent

import (
	"os"
	"testing"
)

// readOnly makes dir read-only with mode 0500.
func readOnly(t *testing.T, dir string) {
	t.Helper()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
}
