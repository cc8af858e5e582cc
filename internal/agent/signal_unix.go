//go:build !windows

package agent

import (
	"fmt"
	"syscall"
)

var unixSignals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT,
	"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "TERM": syscall.SIGTERM,
}

// sendSignal sends the named signal (as signalName returns it) to pid.
func sendSignal(pid int, name string) error {
	sig, ok := unixSignals[name]
	if !ok {
		return fmt.Errorf("%q is not a signal", name)
	}
	return syscall.Kill(pid, sig)
}
