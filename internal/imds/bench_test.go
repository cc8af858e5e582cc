package imds

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is the cheapest ResponseWriter, so the benchmarks measure the handler.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

func benchServe(b *testing.B, target string) {
	s := newTestServer(b, nil)
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.RemoteAddr = "10.0.0.4:40000"
	r.Header.Set("Metadata", "true")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s.ServeHTTP(&discardWriter{h: make(http.Header, 4)}, r)
	}
}

func BenchmarkServeLeaf(b *testing.B) {
	benchServe(b, "/metadata/instance/compute/vmId?api-version=2017-08-01&format=text")
}

func BenchmarkServeInstance(b *testing.B) {
	benchServe(b, "/metadata/instance?api-version=2021-02-01")
}

func BenchmarkServeVersions(b *testing.B) { benchServe(b, "/metadata/versions") }
