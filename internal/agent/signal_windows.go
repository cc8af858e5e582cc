//go:build windows

package agent

// sendSignal is not available on Windows.
func sendSignal(pid int, name string) error { return errNoSignals }
