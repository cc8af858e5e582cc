#!/usr/bin/env bash
# Throughput and latency of tegata's metadata service against the floor (a minimal
# net/http server with a fixed body), in the same run, with wrk at 64 connections on
# loopback; then the RSS of a service holding a 10,000-instance inventory.
#
#   bench/imds.sh                 # 10 s per run
#   DURATION=30s bench/imds.sh    # longer runs
#
# Needs wrk (apt-get install wrk). Prints a Markdown table for docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk (or make deps as root)" >&2; exit 2; }

for port in 18300 18254 18255 18264 18265; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    echo "port $port is in use: stop what listens there (ss -ltnp | grep $port) so the figures come from this run's servers" >&2
    exit 2
  fi
done

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/tegata" ./cmd/tegata
go build -o "$work/floor" ./bench/floor

wait_port() { for _ in $(seq 1 100); do curl -s -o /dev/null "http://$1/" && return 0; sleep 0.1; done; echo "nothing listening on $1" >&2; exit 1; }

"$work/floor" -listen 127.0.0.1:18300 & pids+=($!)
"$work/tegata" imds serve --listen 127.0.0.1:18254 --admin-listen 127.0.0.1:18255 --data-dir "$work/data" --log-level warn & pids+=($!)
wait_port 127.0.0.1:18300
wait_port 127.0.0.1:18254

# run NAME URL: one wrk run; prints "NAME rps p50_ms p99_ms"
run() {
  local out rps p50 p99
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H 'Metadata: true' "$2")
  if echo "$out" | grep -q "Non-2xx"; then echo "$1: non-2xx answers:"; echo "$out" >&2; exit 1; fi
  rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  echo "$1 $rps $(to_ms "$p50") $(to_ms "$p99")"
}
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v } else if (v ~ /s$/) { sub(/s$/,"",v); print v*1000 } else print v }'; }

# Rounds interleave the targets so that drift in the machine's speed (other work, CPU
# frequency) falls on all of them alike; each figure is the median of its rounds.
ROUNDS=${ROUNDS:-3}
targets=(
  "floor http://127.0.0.1:18300/"
  "leaf http://127.0.0.1:18254/metadata/instance/compute/vmId?api-version=2017-08-01&format=text"
  "instance http://127.0.0.1:18254/metadata/instance?api-version=2021-02-01"
  "versions http://127.0.0.1:18254/metadata/versions"
)
raw="$work/raw.txt"
for round in $(seq 1 "$ROUNDS"); do
  for t in "${targets[@]}"; do
    set -- $t
    run "$1" "$2" >> "$raw"
  done
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
stat() { awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$raw" | median; }
floor_rps=$(stat floor 2)
floor_p99=$(stat floor 4)
doc_bytes=$(curl -s -H Metadata:true 'http://127.0.0.1:18254/metadata/instance?api-version=2021-02-01' | wc -c)

echo
echo "wrk -t$THREADS -c$CONNS -d$DURATION, median of $ROUNDS interleaved rounds, loopback, $(nproc) cores, $(go version | awk '{print $3}'); full document $doc_bytes bytes"
echo
echo "| target | requests/s | x floor | p50 ms | p99 ms | p99 x floor |"
echo "|---|---|---|---|---|---|"
for t in "${targets[@]}"; do
  set -- $t
  awk -v n="$1" -v rps="$(stat "$1" 2)" -v p50="$(stat "$1" 3)" -v p99="$(stat "$1" 4)" -v f="$floor_rps" -v fp="$floor_p99" \
    'BEGIN { printf "| %s | %.0f | %.2f | %.3f | %.3f | %.2f |\n", n, rps, rps/f, p50, p99, p99/fp }'
done
echo
echo "all runs (name requests/s p50_ms p99_ms):"
cat "$raw"

# Memory: 10,000 instances, each called from its own address (bench/fleet binds one
# 127/8 address per VM) for its name and whole document at two api-versions, so the
# service holds every VM's trees and memoised documents, as when serving a fleet.
go build -o "$work/fleet" ./bench/fleet
"$work/tegata" imds inventory generate --count 10000 --loopback-addresses > "$work/inv.yaml"
"$work/tegata" imds serve --listen 127.0.0.1:18264 --admin-listen 127.0.0.1:18265 --inventory "$work/inv.yaml" --data-dir "$work/data" --log-level warn & pid=$!; pids+=($pid)
wait_port 127.0.0.1:18264
rss_loaded=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status)
"$work/fleet" -target 127.0.0.1:18264 -count 10000
rss_kb=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status)
hwm_kb=$(awk '/^VmHWM/ {print $2}' /proc/$pid/status)
echo
echo "10,000-instance inventory: RSS $((rss_loaded / 1024)) MB loaded, $((rss_kb / 1024)) MB after serving every VM at two api-versions (peak $((hwm_kb / 1024)) MB)"
