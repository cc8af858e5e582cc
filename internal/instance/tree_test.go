package instance

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGeneratedFullDocument compares the newest document of the generated VM with a
// golden file. The golden file was checked by hand against the full sample of reference
// §4.2.2, which it equals byte for byte once the sample is written compactly.
func TestGeneratedFullDocument(t *testing.T) {
	got := Generated(testVMID).Tree("2025-04-07", false).JSON()
	const golden = "testdata/full-2025-04-07.golden.json"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("document differs from %s\n got %s\nwant %s", golden, got, want)
	}
	if !json.Valid(got) || bytes.HasSuffix(got, []byte("\n")) || bytes.Contains(got, []byte(": ")) {
		t.Error("document is not compact JSON without a trailing newline")
	}
}

// TestNetworkWireSample checks the wire form the reference gives for
// /metadata/instance/network?api-version=2017-08-01 (§4.2.2).
func TestNetworkWireSample(t *testing.T) {
	const want = `{"interface":[{"ipv4":{"ipAddress":[{"privateIpAddress":"10.0.0.4","publicIpAddress":"203.0.113.10"}],"subnet":[{"address":"10.0.0.0","prefix":"24"}]},"ipv6":{"ipAddress":[]},"macAddress":"000D3A1B2C3D"}]}`
	got := member(t, Generated(testVMID).Tree("2017-08-01", false), "network").JSON()
	if string(got) != want {
		t.Errorf("network at 2017-08-01\n got %s\nwant %s", got, want)
	}
}

func TestExtended(t *testing.T) {
	in := Generated(testVMID)
	tests := []struct {
		version  string
		extended bool
		want     string // JSON of the extended object, "" when absent
	}{
		{"2021-08-01", true, `{"compute":{"hasCustomData":false,"ppsType":"None"}}`},
		{"2017-04-02", true, `{"compute":{"hasCustomData":false,"ppsType":"None"}}`},
		{"2021-08-01", false, ""},
	}
	for _, tt := range tests {
		tree := in.Tree(tt.version, tt.extended)
		ext, ok := tree.Get("extended")
		if tt.want == "" {
			if ok {
				t.Errorf("%s extended=%v: extended object served", tt.version, tt.extended)
			}
			continue
		}
		if !ok || string(ext.JSON()) != tt.want {
			t.Errorf("%s extended=%v: extended = %v %s, want %s", tt.version, tt.extended, ok, ext.JSON(), tt.want)
		}
		if !bytes.HasPrefix(tree.JSON(), []byte(`{"compute":{`)) || !strings.Contains(string(tree.JSON()), `},"extended":{"compute":{"hasCustomData":false`) {
			t.Errorf("%s: members not in byte order: %.80s", tt.version, tree.JSON())
		}
	}

	custom := Generated(testVMID)
	custom.Extended.Compute = ExtendedCompute{HasCustomData: "true", PPSType: "Savable"}
	got := member(t, custom.Tree("2021-08-01", true), "extended").JSON()
	if string(got) != `{"compute":{"hasCustomData":true,"ppsType":"Savable"}}` {
		t.Errorf("configured extended = %s", got)
	}
}

// TestTreesAreCachedAndShared checks that a tree is built once per field set, and that
// trees share what did not change.
func TestTreesAreCachedAndShared(t *testing.T) {
	in := Generated(testVMID)
	a := in.Tree("2021-08-01", false)
	if b := in.Tree("2021-05-01", false); a != b {
		t.Error("2021-08-01 and 2021-05-01 serve the same field set but got different trees")
	}
	if a == in.Tree("2021-02-01", false) {
		t.Error("2021-02-01 lacks the ultra-disk fields but got the 2021-08-01 tree")
	}
	ext := in.Tree("2021-08-01", true)
	if member(t, ext, "compute") != member(t, a, "compute") {
		t.Error("extended tree does not share compute with the plain tree")
	}
	if member(t, in.Tree("2017-04-02", false), "network") != member(t, in.Tree(NewestVersion, false), "network") {
		t.Error("network, unchanged since 2017-04-02, is not shared between versions")
	}
	if member(t, a, "compute/storageProfile/osDisk") != member(t, in.Tree(NewestVersion, false), "compute/storageProfile/osDisk") {
		t.Error("osDisk, unchanged since 2019-06-01, is not shared between 2021-08-01 and the newest version")
	}
}

// TestLoadedInstancesShareNodes checks that VMs loaded together share equal subtrees.
func TestLoadedInstancesShareNodes(t *testing.T) {
	inv, err := LoadFile("testdata/inventory.yaml")
	if err != nil {
		t.Fatal(err)
	}
	web, _ := inv.ByName("vm-web-01")
	batch, _ := inv.ByName("vm-batch-01")
	for _, route := range []string{"compute/plan", "compute/host", "compute/storageProfile/osDisk/vhd"} {
		if member(t, web.Tree(NewestVersion, false), route) != member(t, batch.Tree(NewestVersion, false), route) {
			t.Errorf("%s is equal in both VMs but not shared", route)
		}
	}
}

func TestConcurrentTrees(t *testing.T) {
	in := Generated(testVMID)
	versions := []string{"2017-04-02", "2019-06-01", "2021-08-01", NewestVersion}
	var wg sync.WaitGroup
	results := make([][]*Node, 8)
	for g := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, v := range versions {
				for _, ext := range []bool{false, true} {
					tree := in.Tree(v, ext)
					tree.JSON()
					results[g] = append(results[g], tree)
				}
			}
		}()
	}
	wg.Wait()
	for g := range results {
		for i := range results[g] {
			if results[g][i] != results[0][i] {
				t.Fatalf("goroutine %d got a different tree for request %d", g, i)
			}
		}
	}
}

func TestOverrides(t *testing.T) {
	in := Generated(testVMID)
	in.Overrides = map[string]string{
		"/compute/zone":                         "3",
		"/compute/sku":                          "",
		"/network/interface/0/macAddress":       "000D3AFFFFFF",
		"/compute/storageProfile/osDisk/osType": "Windows",
	}
	if err := in.Normalize(); err != nil {
		t.Fatal(err)
	}
	for route, want := range in.Overrides {
		for _, v := range []string{"2019-06-01", NewestVersion} {
			if got := member(t, in.Tree(v, true), route).Value(); got != want {
				t.Errorf("%s at %s = %q, want %q", route, v, got, want)
			}
		}
	}
	if hasRoute(in.Tree("2017-04-02", false), "compute/zone") {
		t.Error("an override made compute/zone appear before 2017-12-01")
	}
	// The model and other instances are untouched.
	if in.Compute.Zone != "2" || member(t, Generated(testVMID).Tree(NewestVersion, false), "compute/zone").Value() != "2" {
		t.Error("an override changed something besides the served tree")
	}
}

func TestTagsFromOneMap(t *testing.T) {
	in := Generated(testVMID)
	in.Compute.Tags = map[string]string{"zeta": "1", "Alpha": "x:y", "beta": ""}
	if err := in.Normalize(); err != nil {
		t.Fatal(err)
	}
	tree := in.Tree(NewestVersion, false)
	if got := member(t, tree, "compute/tags").Value(); got != "Alpha:x:y;beta:;zeta:1" {
		t.Errorf("tags = %q", got)
	}
	want := `[{"name":"Alpha","value":"x:y"},{"name":"beta","value":""},{"name":"zeta","value":"1"}]`
	if got := string(member(t, tree, "compute/tagsList").JSON()); got != want {
		t.Errorf("tagsList = %s, want %s", got, want)
	}

	none := Generated(testVMID)
	none.Compute.Tags = nil
	tree = none.Tree(NewestVersion, false)
	if got := member(t, tree, "compute/tags").Value(); got != "" {
		t.Errorf("tags without tags = %q, want \"\"", got)
	}
	if got := string(member(t, tree, "compute/tagsList").JSON()); got != "[]" {
		t.Errorf("tagsList without tags = %s, want []", got)
	}
}

func TestTextForm(t *testing.T) {
	tree := Generated(testVMID).Tree("2017-08-01", false)
	tests := []struct{ route, want string }{
		{"", "compute/\nnetwork/"},
		{"compute/vmId", testVMID},
		{"network/interface", "0/"},
		{"network/interface/0", "ipv4/\nipv6/\nmacAddress"},
		{"compute/tags", "env:dev;owner:platform"},
	}
	for _, tt := range tests {
		n := tree
		if tt.route != "" {
			n = member(t, tree, tt.route)
		}
		if got := string(n.Text()); got != tt.want {
			t.Errorf("text of %q = %q, want %q", tt.route, got, tt.want)
		}
	}
}
