#!/usr/bin/env bash
# Authenticated secret GETs per second and p99 at 64 connections over HTTPS, with the
# SQLite store and with PostgreSQL; and the managed-identity token endpoint (cached
# tokens) of the metadata service. Each figure is the median of ROUNDS runs.
#
#   bench/vault.sh                 # 10 s per run, 3 rounds
#   DURATION=30s bench/vault.sh
#   PG=0 bench/vault.sh            # SQLite only
#
# Needs wrk, curl and jq; PostgreSQL 15 from Debian for the PostgreSQL run (as root it
# runs as the postgres user). Prints a Markdown table for docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
PG=${PG:-1}
for p in wrk curl jq; do command -v $p >/dev/null || { echo "$p is missing: make deps as root" >&2; exit 2; }; done
for port in 18454 18455 18456 18457; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    echo "port $port is in use: stop what listens there so the figures come from this run's servers" >&2
    exit 2
  fi
done

work=$(mktemp -d)
chmod 755 "$work"
pids=()
pgdata=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$pgdata" ]; then pgctl -D "$pgdata" -m fast stop >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/tegata" ./cmd/tegata

wait_up() { for _ in $(seq 1 300); do curl -s -o /dev/null "http://$1/healthz" && return 0; sleep 0.1; done; echo "nothing listening on $1" >&2; exit 1; }
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v } else if (v ~ /s$/) { sub(/s$/,"",v); print v*1000 } else print v }'; }

# start DATA_DIR [ENV...]: runs tegata up on the bench ports
start() {
  local dir=$1; shift
  env "$@" TEGATA_PKI_PLAN_CA_KEY_ALGORITHM=ecdsa-p384 "$work/tegata" up --data-dir "$dir" --log-level warn \
    --imds-listen 127.0.0.1:18454 --imds-admin-listen 127.0.0.1:18455 --vault-listen 127.0.0.1:18456 >/dev/null &
  pids+=($!)
  wait_up 127.0.0.1:18455
  sleep 0.5
}
stop() { kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'; }

token() {
  curl -s -H Metadata:true "http://127.0.0.1:18454/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net" | jq -r .access_token
}

# run NAME URL [HEADER]: one wrk run; appends "NAME rps p50_ms p99_ms" to raw
raw="$work/raw.txt"
run() {
  local out
  if [ -n "${3:-}" ]; then out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "$3" "$2")
  else out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H 'Metadata: true' "$2"); fi
  if echo "$out" | grep -q "Non-2xx"; then echo "$1: non-2xx answers:" >&2; echo "$out" >&2; exit 1; fi
  echo "$1 $(echo "$out" | awk '/^Requests\/sec/ {print $2}') $(to_ms "$(echo "$out" | awk '$1=="50%" {print $2}')") $(to_ms "$(echo "$out" | awk '$1=="99%" {print $2}')")" >> "$raw"
}

bench_store() {
  local name=$1; shift
  start "$work/$name" "$@"
  local tok
  tok=$(token)
  curl -sf --cacert "$work/$name/tls-ca.pem" -X PUT -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
    -d '{"value":"bench-value"}' "https://127.0.0.1:18456/secrets/bench?api-version=7.4" >/dev/null
  for _ in $(seq 1 "$ROUNDS"); do
    run "secret-get-$name" "https://127.0.0.1:18456/secrets/bench/?api-version=7.4" "Authorization: Bearer $tok"
    if [ "$name" = sqlite ]; then
      run "token" "http://127.0.0.1:18454/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net"
    fi
  done
  stop
}

bench_store sqlite
if [ "$PG" = 1 ]; then
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$bin" ] || { echo "PostgreSQL is missing: apt-get install postgresql (or PG=0)" >&2; exit 2; }
  pgdata="$work/pg"
  mkdir -p "$pgdata"
  if [ "$(id -u)" = 0 ]; then chown postgres "$pgdata"; as=(runuser -u postgres --); else as=(); fi
  pgctl() { "${as[@]}" "$bin/pg_ctl" "$@"; }
  "${as[@]}" "$bin/initdb" -D "$pgdata" -A trust -U postgres --no-sync >/dev/null
  pgctl -D "$pgdata" -w -l "$pgdata/log" -o "-c listen_addresses=127.0.0.1 -p 18457 -k $pgdata -c max_connections=200" start >/dev/null
  bench_store postgres TEGATA_STORE_DRIVER=postgres "TEGATA_STORE_DSN=postgres://postgres@127.0.0.1:18457/postgres?sslmode=disable"
fi

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
stat() { awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$raw" | median; }
echo
echo "wrk -t$THREADS -c$CONNS -d$DURATION, median of $ROUNDS rounds, loopback, $(nproc) cores, $(go version | awk '{print $3}')"
echo
echo "| target | requests/s | p50 ms | p99 ms |"
echo "|---|---|---|---|"
for n in secret-get-sqlite secret-get-postgres token; do
  grep -q "^$n " "$raw" || continue
  awk -v n="$n" -v rps="$(stat "$n" 2)" -v p50="$(stat "$n" 3)" -v p99="$(stat "$n" 4)" 'BEGIN { printf "| %s | %.0f | %.3f | %.3f |\n", n, rps, p50, p99 }'
done
echo
echo "all runs (name requests/s p50_ms p99_ms):"
cat "$raw"
