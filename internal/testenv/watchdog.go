package testenv

import (
	"os"
	"os/exec"
	"syscall"
)

// startWatchdog starts script under /bin/sh, in its own process group (so a
// Ctrl-C aimed at the tests does not kill it first), reading a pipe whose
// write end only this process holds. The script's `read` returns when the
// returned file is closed or when the test process exits, however it exits;
// the script then stops what the test started. args are the script's $1...;
// env, when not nil, is its environment.
func startWatchdog(script string, env []string, args ...string) (*exec.Cmd, *os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, "sh"}, args...)...)
	cmd.Stdin = r
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, nil, err
	}
	return cmd, w, nil
}
