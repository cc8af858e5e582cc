// Command fleet calls a metadata service as every VM of an inventory made by
// `tegata imds inventory generate --loopback-addresses`: each request leaves from that
// VM's 127/8 address, so the service builds and keeps every VM's documents, as it would
// serving a real fleet. bench/imds.sh then reads the service's memory.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// loopbackAddress mirrors cli.LoopbackAddress (kept apart so the bench needs no
// internal package).
func loopbackAddress(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, byte(1 + i/(250*250)), byte(1 + (i/250)%250), byte(1 + i%250)})
}

func main() {
	target := flag.String("target", "127.0.0.1:18264", "metadata service host:port")
	count := flag.Int("count", 10000, "number of VMs in the inventory")
	versions := flag.String("versions", "2021-02-01,2017-08-01", "api-versions to request, comma-separated")
	workers := flag.Int("workers", 8, "concurrent callers")
	flag.Parse()

	var failed, done atomic.Int64
	jobs := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				src := loopbackAddress(i)
				client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
					DialContext:       (&net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}).DialContext,
					DisableKeepAlives: true,
				}}
				for _, v := range strings.Split(*versions, ",") {
					req, _ := http.NewRequest(http.MethodGet, "http://"+*target+"/metadata/instance/compute/name?format=text&api-version="+v, nil)
					req.Header.Set("Metadata", "true")
					resp, err := client.Do(req)
					if err != nil {
						failed.Add(1)
						continue
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if want := fmt.Sprintf("vm-%06d", i+1); resp.StatusCode != 200 || string(body) != want {
						failed.Add(1)
					}
					// The whole document too: it is what the service memoises.
					req.URL.Path = "/metadata/instance"
					req.URL.RawQuery = "api-version=" + v
					if resp, err := client.Do(req); err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
				done.Add(1)
			}
		}()
	}
	for i := range *count {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	fmt.Printf("fleet: %d VMs called in %s, %d failed checks\n", done.Load(), time.Since(start).Round(time.Millisecond), failed.Load())
	if failed.Load() > 0 {
		os.Exit(1)
	}
}
