package pki

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadMasterKey(t *testing.T) {
	raw := bytes.Repeat([]byte{7}, 32)
	b64 := base64.StdEncoding.EncodeToString(raw)
	want, _ := NewMasterKey(raw)
	for _, tc := range []struct {
		name    string
		content []byte
		mode    os.FileMode
		env     string
		wantErr error
	}{
		{"raw file", raw, 0o600, "", nil},
		{"base64 file with newline", []byte(b64 + "\n"), 0o400, "", nil},
		{"group readable", raw, 0o640, "", ErrInsecureKeyFile},
		{"too short", []byte("c2hvcnQ="), 0o600, "", ErrBadMasterKey},
		{"env", nil, 0, b64, nil},
		{"bad env", nil, 0, "not-base64!", ErrBadMasterKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.content != nil {
				path = filepath.Join(t.TempDir(), "mk")
				if err := os.WriteFile(path, tc.content, tc.mode); err != nil {
					t.Fatal(err)
				}
				_ = os.Chmod(path, tc.mode)
			}
			env := func(k string) string {
				if k == MasterKeyEnv {
					return tc.env
				}
				return ""
			}
			m, created, err := LoadMasterKey(path, "", env)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && (m.ID() != want.ID() || created) {
				t.Errorf("id %s created %v, want %s false", m.ID(), created, want.ID())
			}
		})
	}
}

func TestDevMasterKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	none := func(string) string { return "" }
	m1, created, err := LoadMasterKey("", dir, none)
	if err != nil || !created {
		t.Fatalf("first load: created %v, err %v", created, err)
	}
	st, err := os.Stat(filepath.Join(dir, MasterKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("master.key mode %v, err %v", st.Mode().Perm(), err)
	}
	m2, created, err := LoadMasterKey("", dir, none)
	if err != nil || created || m2.ID() != m1.ID() {
		t.Fatalf("second load: id %s (first %s), created %v, err %v", m2.ID(), m1.ID(), created, err)
	}
	if len(m1.ID()) != 16 {
		t.Errorf("key id %q is not 8 bytes of hex", m1.ID())
	}
	for _, s := range []string{fmt.Sprint(m1), fmt.Sprintf("%#v", m1), fmt.Sprintf("%+v", m1)} {
		if strings.Contains(s, base64.StdEncoding.EncodeToString(m1.key[:])) || !strings.Contains(s, m1.ID()) {
			t.Errorf("formatted master key %q reveals the key or hides the id", s)
		}
	}
}
