package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// State mirrors the Azure extension handler's states (C.5).
type State string

// The states of the agent and of each certificate.
const (
	// StateTransitioning: the initial sync is in progress, or the
	// certificate has not been polled yet.
	StateTransitioning State = "transitioning"
	// StateSuccess: the current version is installed and its hooks ran.
	StateSuccess State = "success"
	// StateWarning: the installed files stay, but the vault could not be
	// read (disabled or missing version, unreachable vault) or a reload
	// hook failed and will be retried.
	StateWarning State = "warning"
	// StateError: the certificate cannot be installed (access refused, a
	// version refused by the checks, files that cannot be written), or the
	// initial sync failed.
	StateError State = "error"
)

// rank orders states from best to worst.
func (s State) rank() int {
	switch s {
	case StateSuccess:
		return 0
	case StateTransitioning:
		return 1
	case StateWarning:
		return 2
	}
	return 3
}

// StatusVersion is the version of the status file's format.
const StatusVersion = 1

// Status is the content of the status file: tegata's own format, whose
// states mirror Azure's handler states (C.5).
type Status struct {
	Version int       `json:"version"`
	Time    time.Time `json:"time"`
	State   State     `json:"state"`
	// Ready is true once the agent has declared itself started: at once,
	// or after the initial sync with requireInitialSync.
	Ready        bool         `json:"ready"`
	Message      string       `json:"message"`
	Certificates []CertStatus `json:"certificates"`
}

// CertStatus is one certificate's line in the status.
type CertStatus struct {
	URL  string `json:"url"`
	Link string `json:"link,omitempty"`
	// InstalledVersion, NotAfter and Serial describe what the link points to.
	InstalledVersion string     `json:"installedVersion,omitempty"`
	NotAfter         *time.Time `json:"notAfter,omitempty"`
	Serial           string     `json:"serial,omitempty"`
	// LastPoll is the last time the vault was asked; LastChange the last
	// time a version was installed.
	LastPoll   *time.Time `json:"lastPoll,omitempty"`
	LastChange *time.Time `json:"lastChange,omitempty"`
	State      State      `json:"state"`
	// Error is the current problem, null when there is none.
	Error     *string   `json:"error"`
	ErrorKind ErrorKind `json:"errorKind,omitempty"`
	// LastError and LastErrorTime keep the most recent problem after it
	// cleared.
	LastError           string     `json:"lastError,omitempty"`
	LastErrorTime       *time.Time `json:"lastErrorTime,omitempty"`
	ConsecutiveFailures int        `json:"consecutiveFailures,omitempty"`
	// PendingHooks are the hooks that must still run (after a failure).
	PendingHooks []string `json:"pendingHooks,omitempty"`
}

// WriteStatus writes st to path atomically (mode 0644; the directory is
// made 0755 when missing). The status holds no secret.
func WriteStatus(path string, st *Status) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if _, err := ensureDir(dir, 0o755, -1, -1); err != nil {
		return fmt.Errorf("status file: %w", err)
	}
	if err := writeAtomic(dir, filepath.Base(path), append(b, '\n'), fileSpec{mode: 0o644, uid: -1, gid: -1}); err != nil {
		return fmt.Errorf("status file: %w", err)
	}
	return nil
}

// ReadStatus reads a status file.
func ReadStatus(path string) (*Status, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st Status
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: not a tegata agent status file: %w", path, err)
	}
	if st.Version != StatusVersion {
		return nil, fmt.Errorf("%s: status format version %d; this tegata reads version %d", path, st.Version, StatusVersion)
	}
	return &st, nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
