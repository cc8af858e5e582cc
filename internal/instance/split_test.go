package instance

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// sameAsWhole checks that Parse, which parses an inventory entry by entry when it can,
// reaches the outcome of parsing the whole document at once.
func sameAsWhole(t testing.TB, data []byte) {
	t.Helper()
	got, gotErr := Parse("f.yaml", data)
	want, wantErr := parseWhole("f.yaml", data)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("Parse error %v, whole-document error %v\ninput:\n%s", gotErr, wantErr, data)
	}
	if gotErr != nil {
		return
	}
	var a, b bytes.Buffer
	if err := got.WriteYAML(&a); err != nil {
		t.Fatal(err)
	}
	if err := want.WriteYAML(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatalf("Parse and whole-document parse differ\ninput:\n%s\nParse:\n%s\nwhole:\n%s", data, a.Bytes(), b.Bytes())
	}
}

var splitCases = map[string]string{
	"indented list":              "instances:\n  - name: a\n    compute: {zone: 1}\n  - name: b\n",
	"list at column 0":           "instances:\n- name: a\n  network:\n    interface:\n    - macAddress: 000D3A000001\n- name: b\ndefault: b\n",
	"CRLF":                       "instances:\r\n  - name: a\r\n    compute:\r\n      zone: 1\r\n  - name: b\r\n",
	"comments":                   "# head\ninstances: # the VMs\n# between\n  - name: a\n# column 0 inside\n    compute:\n      zone: 1 # trailing\n\n  # indented\n  - name: b\n# tail\n",
	"kept block scalar":          "instances:\n  - name: a\n    compute:\n      publicKeys:\n        - keyData: |+\n            ssh-ed25519 AAAA a\n\n\n          path: /p\n  - name: b\n",
	"block scalar then item":     "instances:\n  - name: a\n    compute:\n      publicKeys:\n        - keyData: |\n            - name: x\n  - name: b\n",
	"quoted across entries":      "instances:\n  - name: a\n    compute: {location: \"x\n  - name: b\"}\n",
	"flow across entries":        "instances:\n  - {name: a,\n  - b: 1}\n",
	"alias across entries":       "instances:\n  - name: a\n    compute: {zone: &z 1}\n  - name: b\n    compute: {zone: *z}\n",
	"default first":              "default: b\ninstances:\n  - name: a\n  - name: b\n",
	"second instances key":       "instances:\n  - name: a\ninstances:\n  - name: b\n",
	"document markers":           "---\ninstances:\n  - name: a\n...\n",
	"second document":            "instances:\n  - name: a\n---\ninstances:\n  - name: b\n",
	"tab in entry":               "instances:\n  - name: a\n\tcompute: {}\n",
	"BOM":                        "\ufeffinstances:\n  - name: a\n",
	"directive":                  "%YAML 1.2\n---\ninstances:\n  - name: a\n",
	"dash without space":         "instances:\n  -name: a\n",
	"empty entry line":           "instances:\n  -\n    name: a\n  -\n    name: b\n",
	"less indented line":         "instances:\n    - name: a\n  compute: {}\n",
	"nested list at key indent":  "instances:\n  - name: a\n    addresses:\n    - 192.0.2.1\n    - 192.0.2.2\n  - name: b\n",
	"top-level block scalar":     "--- |\ninstances:\n- name: a\n",
	"literal instances in value": "x: |\n  instances:\n  - name: a\ninstances:\n  - name: b\n",
	"quoted key":                 "\"instances\":\n  - name: a\n",
}

func TestSplitMatchesWhole(t *testing.T) {
	for name, doc := range splitCases {
		t.Run(name, func(t *testing.T) { sameAsWhole(t, []byte(doc)) })
	}
	example, err := os.ReadFile("testdata/inventory.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sameAsWhole(t, example)
	var gen bytes.Buffer
	if err := Generate(200, 3).WriteYAML(&gen); err != nil {
		t.Fatal(err)
	}
	sameAsWhole(t, gen.Bytes())
}

// TestSplitIsUsed checks that the usual layouts are read entry by entry, which is what
// keeps loading a large inventory small.
func TestSplitIsUsed(t *testing.T) {
	example, _ := os.ReadFile("testdata/inventory.yaml")
	var gen bytes.Buffer
	Generate(50, 3).WriteYAML(&gen)
	for name, data := range map[string][]byte{
		"example":   example,
		"generated": gen.Bytes(),
		"column 0":  []byte(splitCases["list at column 0"]),
		"comments":  []byte(splitCases["comments"]),
		"CRLF":      []byte(splitCases["CRLF"]),
	} {
		if _, err := parseStream("f.yaml", bytes.NewReader(data)); err == errNotSplit {
			t.Errorf("%s: read as a whole document", name)
		}
	}

	sc := newEntryScanner(strings.NewReader(splitCases["comments"]))
	var entries []string
	for {
		text, line, err := sc.next()
		if err != nil {
			break
		}
		entries = append(entries, fmt.Sprintf("%d:%s", line, text))
	}
	want := []string{
		"4:  - name: a\n# column 0 inside\n    compute:\n      zone: 1 # trailing\n\n  # indented\n",
		"10:  - name: b\n# tail\n",
	}
	if !slices.Equal(entries, want) {
		t.Errorf("entries %q, want %q", entries, want)
	}
	if got := string(sc.skeleton); got != "# head\ninstances: # the VMs\n# between\n\n\n\n\n\n\n\n\n" {
		t.Errorf("skeleton %q", got)
	}
}
