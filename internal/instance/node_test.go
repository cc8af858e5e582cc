package instance

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestNodeJSON(t *testing.T) {
	tests := []struct {
		n    *Node
		want string
	}{
		{String(`a<b>&"\` + "\n\x01\u2028"), `"a<b>&\"\\\n\u0001\u2028"`},
		{String("\xff"), `"\ufffd"`},
		{Literal("false"), `false`},
		{Array(), `[]`},
		{Object(Fields{"b": String("2"), "a": String("1"), "c": nil}), `{"a":"1","b":"2"}`},
		{Object(Fields{"x": Array(Object(Fields{}), String(""))}), `{"x":[{},""]}`},
	}
	for _, tt := range tests {
		if got := string(tt.n.JSON()); got != tt.want {
			t.Errorf("JSON = %s, want %s", got, tt.want)
		}
		if got := string(tt.n.AppendJSON([]byte("x"))); got != "x"+tt.want {
			t.Errorf("AppendJSON = %s, want x%s", got, tt.want)
		}
		if !json.Valid(tt.n.JSON()) {
			t.Errorf("%s is not valid JSON", tt.n.JSON())
		}
	}
}

// TestNodeJSONMemo checks that small subtrees keep their JSON, that whole documents are
// kept only within memoBudget, and that the budget comes back when a tree is dropped.
func TestNodeJSONMemo(t *testing.T) {
	small := Object(Fields{"a": String("1")})
	if a, b := small.JSON(), small.JSON(); &a[0] != &b[0] {
		t.Error("small object rendered twice instead of kept")
	}
	saved := memoBudget.Load()
	defer memoBudget.Store(saved)

	memoBudget.Store(int64(maxMemoJSON + 8))
	big := Object(Fields{"a": String(strings.Repeat("x", maxMemoJSON))})
	a, b := big.JSON(), big.JSON()
	if &a[0] != &b[0] {
		t.Error("large object not kept although the budget allowed it")
	}
	// Far less than the next document needs: cleanups of trees that earlier tests dropped
	// give their bytes back at any moment, and must not lift the budget over it here.
	memoBudget.Store(-1 << 40)
	other := Object(Fields{"b": String(strings.Repeat("y", maxMemoJSON))})
	c, d := other.JSON(), other.JSON()
	if &c[0] == &d[0] {
		t.Error("large object kept beyond the budget")
	}
	if !bytes.Equal(a, big.JSON()) || len(a) != maxMemoJSON+8 || !bytes.Equal(c, d) {
		t.Errorf("large objects render differently")
	}
	before := memoBudget.Load()
	big = nil
	for range 200 { // cleanups run after a collection, on their own goroutine
		runtime.GC()
		if memoBudget.Load() >= before+int64(maxMemoJSON+8) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("budget not returned after the tree was dropped: %d", memoBudget.Load())
}

func TestNodeText(t *testing.T) {
	n := Object(Fields{"list": Array(String("a"), Object(Fields{})), "leaf": String("v\n"), "lit": Literal("true")})
	tests := []struct {
		n    *Node
		want string
	}{
		{n, "leaf\nlist/\nlit"},
		{member(t, n, "list"), "0\n1/"},
		{member(t, n, "leaf"), "v\n"},
		{member(t, n, "lit"), "true"},
		{Array(), ""},
	}
	for _, tt := range tests {
		if got := string(tt.n.Text()); got != tt.want {
			t.Errorf("Text = %q, want %q", got, tt.want)
		}
	}
}

func TestNodeChild(t *testing.T) {
	n := Object(Fields{"arr": Array(String("zero"), String("one")), "s": String("x")})
	tests := []struct {
		route string
		ok    bool
	}{
		{"arr/1", true}, {"arr/01", false}, {"arr/2", false}, {"arr/-1", false}, {"arr/+1", false},
		{"s", true}, {"s/0", false}, {"S", false}, {"missing", false},
	}
	for _, tt := range tests {
		if got := hasRoute(n, tt.route); got != tt.ok {
			t.Errorf("route %q found = %v, want %v", tt.route, got, tt.ok)
		}
	}
	if n.Len() != 2 || String("x").Len() != 0 || String("x").Keys() != nil || !String("x").IsLeaf() || n.IsLeaf() {
		t.Error("Len, Keys or IsLeaf wrong")
	}
}
