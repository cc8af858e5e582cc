// Package testenv gives tests the real programs they drive (curl, ip, the tegata
// binary) and decides what happens when one is missing: the test skips, unless
// TEGATA_REQUIRE_INTEGRATION=1 (set by .ci/run), in which case it fails.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Required reports whether missing dependencies must fail tests instead of skipping.
func Required() bool { return os.Getenv("TEGATA_REQUIRE_INTEGRATION") == "1" }

// Missing skips t, or fails it under TEGATA_REQUIRE_INTEGRATION=1, explaining what is
// missing and how to get it.
func Missing(t testing.TB, what, fix string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is missing (%s); TEGATA_REQUIRE_INTEGRATION=1 makes that a failure", what, fix)
	}
	t.Skipf("%s is missing (%s)", what, fix)
}

// Program returns the path of an executable, or skips/fails t when it is absent.
func Program(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name, "run `make deps` as root, or apt-get install "+debianPackage)
	}
	return p
}

// Root skips/fails t unless it runs as root (network namespaces need it).
func Root(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "root", why)
	}
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
	buildOut  []byte
)

// Tegata builds the tegata binary once per test process and returns its path.
func Tegata(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the tegata binary; skipped with -short")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tegata-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "tegata")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/tegata")
		cmd.Dir = moduleRoot()
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("building tegata: %v\n%s", buildErr, buildOut)
	}
	return buildPath
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
