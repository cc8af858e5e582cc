package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// maxHookOutput bounds the output of a hook kept for its error message.
const maxHookOutput = 2048

// HookRunner runs one hook; links are the link paths of the certificates
// whose install made the hook due. Tests may replace it.
type HookRunner func(ctx context.Context, h Hook, links []string) error

// runHook runs h: a command with a timeout, its environment extended with
// TEGATA_AGENT_LINKS (the link paths, space-separated); or a signal to the
// process whose id is in PIDFile. The error carries the command's exit
// status and the end of its output.
func runHook(ctx context.Context, h Hook, links []string) error {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultHookTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if len(h.Exec) == 0 {
		return signalHook(h)
	}
	cmd := exec.CommandContext(ctx, h.Exec[0], h.Exec[1:]...)
	cmd.Env = append(os.Environ(), "TEGATA_AGENT_LINKS="+strings.Join(links, " "))
	var out tailBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	switch {
	case err == nil:
		return nil
	case ctx.Err() == context.DeadlineExceeded:
		return fmt.Errorf("hook %q: no exit within %s; stopped%s", h.String(), timeout, out.suffix())
	default:
		return fmt.Errorf("hook %q: %w%s", h.String(), err, out.suffix())
	}
}

// signalHook sends h.Signal to the process in h.PIDFile.
func signalHook(h Hook) error {
	sig, ok := signalName(h.Signal)
	if !ok {
		return fmt.Errorf("hook: %q is not a signal", h.Signal)
	}
	b, err := os.ReadFile(h.PIDFile)
	if err != nil {
		return fmt.Errorf("hook %q: %w", h.String(), err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("hook %q: %s does not hold a process id", h.String(), h.PIDFile)
	}
	if err := sendSignal(pid, sig); err != nil {
		return fmt.Errorf("hook %q: %w", h.String(), err)
	}
	return nil
}

// tailBuffer keeps the last maxHookOutput bytes written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > maxHookOutput {
		t.b = t.b[len(t.b)-maxHookOutput:]
	}
	return len(p), nil
}

func (t *tailBuffer) suffix() string {
	s := string(bytes.TrimSpace(t.b))
	if s == "" {
		return ""
	}
	return ": " + strings.ReplaceAll(s, "\n", " | ")
}

var errNoSignals = errors.New("signals are not available on this platform; use exec")
