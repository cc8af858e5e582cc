package instance

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that every failure is a *LoadError,
// that the entry-by-entry parse agrees with the whole-document parse, and that whatever
// loads renders valid JSON and survives a write-load cycle.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("testdata/inventory.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	for _, doc := range splitCases {
		f.Add([]byte(doc))
	}
	var gen bytes.Buffer
	if err := Generate(3, 1).WriteYAML(&gen); err != nil {
		f.Fatal(err)
	}
	f.Add(gen.Bytes())
	f.Add([]byte("instances:\n  - name: a\n    loadBalancer:\n      inboundRules:\n        - {protocol: tcp, frontendPort: 80, backendPort: 8080}\n    identity:\n      systemAssigned: {enabled: true}\n    overrides: {/compute/zone: \"3\"}\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsWhole(t, data)
		inv, err := Parse("f.yaml", data)
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is a %T, not a *LoadError", err, err)
			}
			return
		}
		for _, in := range inv.All() {
			for _, v := range []string{"2017-03-01", "2021-08-01", NewestVersion} {
				if doc := in.Tree(v, true).JSON(); !json.Valid(doc) {
					t.Fatalf("%s at %s: invalid JSON %s", in.Name, v, doc)
				}
			}
		}
		var out bytes.Buffer
		if err := inv.WriteYAML(&out); err != nil {
			t.Fatal(err)
		}
		if _, err := Parse("written.yaml", out.Bytes()); err != nil {
			t.Fatalf("written inventory does not load: %v\n%s", err, out.Bytes())
		}
	})
}
