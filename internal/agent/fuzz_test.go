package agent

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseSettings feeds settings files to the parser and the planner: no
// panic, every error positioned inside the input, and a successful parse
// plans without panicking on both platforms.
func FuzzParseSettings(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"secretsManagementSettings":{"observedCertificates":["https://v.vault.azure.net/certificates/a"]}}`,
		`{"secretsManagementSettings":"{\"x\":1}"}`,
		`{"properties":{"typeHandlerVersion":"3.0","settings":{"secretsManagementSettings":{"observedCertificates":[{"url":"https://v/secrets/a/b"}]}}}}`,
		`{"secretsManagementSettings":{"observedCertificates":[]},"tegata":{"hooks":[{"signal":"HUP","pidFile":"/run/x"}],"certificates":{"x":{}}}}`,
		`[[[[[[[[[[`, `"x"`, `{"a":1,"a":2}`, "\xef\xbb\xbf{}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > MaxSettingsSize+10 {
			return
		}
		lines := bytes.Count(data, []byte{'\n'}) + 1
		s, err := ParseSettings(data, ParseOptions{File: "fuzz.json"})
		if err != nil {
			es, ok := err.(SettingsErrors)
			if !ok || len(es) == 0 || len(es) > maxErrors {
				t.Fatalf("error %T %v", err, err)
			}
			for _, e := range es {
				if e.Line < 0 || e.Line > lines || e.Error() == "" {
					t.Fatalf("error outside the input: %v (%d lines)", e, lines)
				}
			}
			return
		}
		for _, goos := range []string{"linux", "windows"} {
			if p, err := NewPlan(s, goos); err == nil && len(p.Targets) != len(s.Certificates) {
				t.Fatalf("%s: %d targets for %d certificates", goos, len(p.Targets), len(s.Certificates))
			}
		}
	})
}
