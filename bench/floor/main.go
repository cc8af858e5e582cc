// Command floor is the benchmark floor: the least a Go net/http server can do per
// request (a fixed body, no routing). bench/imds.sh measures tegata against it in the
// same run, so the figures compare like with like on whatever machine runs them.
package main

import (
	"flag"
	"log"
	"net/http"
	"strconv"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:18300", "host:port")
	flag.Parse()
	body := []byte(`3f1c8a52-6d0e-4b7a-9c2f-1e5d7a9b0c11`)
	length := []string{strconv.Itoa(len(body))}
	ctype := []string{"text/plain; charset=utf-8"}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = ctype
		w.Header()["Content-Length"] = length
		w.Write(body)
	})
	log.Fatal(http.ListenAndServe(*addr, h))
}
