#!/usr/bin/env bash
# Requests/s through Streamgate's TLS listener: HTTP/2 with h2load (Debian package nghttp2-client) against
# HTTP/1.1 over the same listener with wrk and with h2load --h1, all on GET /json of the BenchBackend (see
# benchmarks/load/run.sh). Interleaved rounds after a warm-up; medians reported.
#
# Knobs: TLS_PORT [18443]  BACKEND_PORT [18180]  ROUNDS [3]  DURATION [10 s]  WARMUP [10 s]
#        CONNECTIONS [32]  STREAMS [10 per h2 connection]  CLIENT_THREADS [1]  CERT_KIND [rsa]
#        and those of lib.sh (STREAMGATE_JAR, BENCH_JAR, MVN_FLAGS, KEEP_TMP).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TLS_PORT=${TLS_PORT:-18443}
BACKEND_PORT=${BACKEND_PORT:-18180}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-10}
CONNECTIONS=${CONNECTIONS:-32}
STREAMS=${STREAMS:-10}
CLIENT_THREADS=${CLIENT_THREADS:-1}
CERT_KIND=${CERT_KIND:-rsa}

require_tools "h2load (apt-get install nghttp2-client)" "wrk (apt-get install wrk)" "curl (apt-get install curl)" \
    "openssl (apt-get install openssl)" "java (apt-get install openjdk-17-jre-headless)"
ensure_jars
require_free_ports "$TLS_PORT" "$BACKEND_PORT"
make_certs

cat >"$TMP/streamgate.yaml" <<EOF
server:
  listen: "127.0.0.1:$TLS_PORT"
  io_threads: 0
  drain_timeout: 1s
  http2: true
  max_concurrent_streams: 128
  tls:
    certificates:
      - cert: "$CERT_DIR/$CERT_KIND.pem"
        key: "$CERT_DIR/$CERT_KIND.key"
upstreams:
  bench:
    endpoints: ["http://127.0.0.1:$BACKEND_PORT"]
    pool:
      idle_timeout: 60s
routes:
  - path_prefix: /
    upstream: bench
EOF

BACKEND_THREADS=${BACKEND_THREADS:-2} start_bench_backend "$BACKEND_PORT"
start_streamgate "$TMP/streamgate.yaml" "$TLS_PORT"
PROVIDER=$(grep -oE 'TLS by [^,]+' "$TMP/streamgate.log" | head -1 || true)
URL=https://127.0.0.1:$TLS_PORT/json
[[ $(curl -sk --http2 -o /dev/null -w '%{http_version} %{http_code}' "$URL") == "2 200" ]] || die "no HTTP/2 200 from $URL"
[[ $(curl -sk --http1.1 -o /dev/null -w '%{http_version} %{http_code}' "$URL") == "1.1 200" ]] || die "no HTTP/1.1 200 from $URL"

mkdir -p "$TMP/m"
# run KIND SECONDS record?  KIND: h2 (h2load), h1-wrk (wrk), h1-h2load (h2load --h1)
run() {
    local kind=$1 seconds=$2 out rps errors
    case $kind in
        h2) out=$(h2load -D "$seconds" -c "$CONNECTIONS" -m "$STREAMS" -t "$CLIENT_THREADS" "$URL" 2>&1 || true) ;;
        h1-h2load) out=$(h2load --h1 -D "$seconds" -c "$CONNECTIONS" -t "$CLIENT_THREADS" "$URL" 2>&1 || true) ;;
        h1-wrk) out=$(wrk -t"$CLIENT_THREADS" -c"$CONNECTIONS" -d"${seconds}s" "$URL" 2>&1 || true) ;;
    esac
    [[ $3 == record ]] || return 0
    echo "$out" >>"$TMP/$kind.txt"
    if [[ $kind == h1-wrk ]]; then
        rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
        errors=$(( $(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out" | grep . || echo 0) \
            + $(awk -F'[ ,]+' '/Socket errors:/ {print $4 + $6 + $8 + $10}' <<<"$out" | grep . || echo 0) ))
    else
        rps=$(awk '/^finished in/ {for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^req\/s/) printf "%.0f", $i}' <<<"$out")
        # "requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout" and
        # "status codes: N 2xx, N 3xx, N 4xx, N 5xx": failures plus non-2xx answers.
        errors=$(awk '/^requests:/ {e += $10 + $12 + $14} /^status codes:/ {e += $5 + $7 + $9} END {print e + 0}' <<<"$out")
    fi
    echo "${rps:-nan}" >>"$TMP/m/$kind.rps"
    echo "${errors:-nan}" >>"$TMP/m/$kind.errors"
    log "  $kind: ${rps:-?} req/s, errors ${errors:-?}"
}

KINDS=(h2 h1-wrk h1-h2load)
log "warm-up ${WARMUP}s each"
for kind in "${KINDS[@]}"; do run "$kind" "$WARMUP" no; done
for round in $(seq "$ROUNDS"); do
    log "round $round/$ROUNDS"
    for kind in "${KINDS[@]}"; do
        sleep 1
        run "$kind" "$DURATION" record
    done
done

median() { sort -g "$1" | awk '{v[NR] = $1} END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
H2=$(median "$TMP/m/h2.rps")
{
    echo "## Requests/s through the TLS listener: HTTP/2 (h2load) vs HTTP/1.1 (wrk, h2load --h1), GET /json"
    echo
    echo "- $(machine_line); ${PROVIDER:-provider unknown}; $CERT_KIND certificate; $(h2load --version | head -1); wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}')"
    echo "- $CONNECTIONS connections, $CLIENT_THREADS client thread(s); h2: $STREAMS concurrent streams per connection; ${DURATION}s per run after ${WARMUP}s warm-up each; median of $ROUNDS interleaved rounds; BenchBackend, Streamgate and the load generator share the machine"
    echo
    echo "| client | protocol | requests/s (median) | rounds | errors (all rounds) | vs h2 |"
    echo "|---|---|---:|---|---:|---:|"
    for kind in "${KINDS[@]}"; do
        r=$(median "$TMP/m/$kind.rps")
        case $kind in h2) c="h2load -m $STREAMS"; p="HTTP/2 (TLS, ALPN h2)" ;; h1-wrk) c=wrk; p="HTTP/1.1 (TLS)" ;; *) c="h2load --h1"; p="HTTP/1.1 (TLS)" ;; esac
        printf '| %s | %s | %s | %s | %s | %s |\n' "$c" "$p" "$r" "$(paste -sd/ "$TMP/m/$kind.rps")" \
            "$(awk '{s += $1} END {print s + 0}' "$TMP/m/$kind.errors")" "$(awk -v a="$r" -v b="$H2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
    done
}
