#!/usr/bin/env bash
# Cache-hit throughput: Streamgate's response cache against nginx's proxy_cache, both in front of the same
# BenchBackend, on GET /json (a 237-byte JSON body the backend allows to be cached for an hour by route config).
# Both caches are filled first and must then answer X-Cache: HIT, so what is measured is the hit path only. Interleaved wrk rounds after a warm-up; medians and the ratio streamgate/nginx go to
# benchmarks/results/<date>-cache-hit.md (also printed).
#
# Knobs: ROUNDS [3]  DURATION [10s]  WARMUP [15s]  CONNECTIONS [64]  THREADS [2]
#        BACKEND_PORT [18280]  STREAMGATE_PORT [18281]  NGINX_PORT [18282]
#        and those of benchmarks/security/lib.sh (STREAMGATE_JAR, BENCH_JAR, MVN_FLAGS, KEEP_TMP).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../security/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-15s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
BACKEND_PORT=${BACKEND_PORT:-18280}
STREAMGATE_PORT=${STREAMGATE_PORT:-18281}
NGINX_PORT=${NGINX_PORT:-18282}

require_tools "nginx (apt-get install nginx)" "wrk (apt-get install wrk)" "curl (apt-get install curl)" \
    "java (apt-get install openjdk-17-jre-headless)"
ensure_jars
require_free_ports "$BACKEND_PORT" "$STREAMGATE_PORT" "$NGINX_PORT"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

cat >"$TMP/streamgate.yaml" <<YAML
server:
  listen: "127.0.0.1:$STREAMGATE_PORT"
  io_threads: 0
  drain_timeout: 1s
upstreams:
  bench:
    endpoints: ["http://127.0.0.1:$BACKEND_PORT"]
    pool:
      idle_timeout: 60s
cache:
  max_size: 64MiB
routes:
  - path_prefix: /
    upstream: bench
    cache:
      ttl: 1h
      shared: true
YAML

mkdir -p "$TMP/nginx/cache"
# Run as root, nginx's workers drop to an unprivileged user that must be able to write its cache files here.
chmod a+x "$TMP" && chmod -R a+rwx "$TMP/nginx"
cat >"$TMP/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid nginx.pid;
error_log error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path client_body;
    proxy_temp_path proxy_temp;
    fastcgi_temp_path fastcgi_temp;
    uwsgi_temp_path uwsgi_temp;
    scgi_temp_path scgi_temp;
    # The usual nginx response cache: keys in shared memory, bodies in files (served from the page cache).
    proxy_cache_path cache levels=1:2 keys_zone=llm:10m max_size=64m inactive=1h use_temp_path=off;
    upstream bench {
        server 127.0.0.1:$BACKEND_PORT;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT backlog=4096;
        keepalive_requests 1000000;
        location / {
            proxy_pass http://bench;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache llm;
            proxy_cache_valid 200 1h;
            proxy_cache_lock on;
            add_header X-Cache \$upstream_cache_status;
        }
    }
}
CONF

BACKEND_THREADS=${BACKEND_THREADS:-2} start_bench_backend "$BACKEND_PORT"
start_streamgate "$TMP/streamgate.yaml" "$STREAMGATE_PORT"
nginx -c "$TMP/nginx.conf" -p "$TMP/nginx/" -e "$TMP/nginx/error.log" >"$TMP/nginx.log" 2>&1 &
PIDS+=($!); wait_for_port nginx "$NGINX_PORT" "$!" "$TMP/nginx.log"

port_of() { case $1 in streamgate) echo "$STREAMGATE_PORT" ;; nginx) echo "$NGINX_PORT" ;; esac; }
for t in streamgate nginx; do
    curl -s -o /dev/null "http://127.0.0.1:$(port_of $t)/json"
    status=$(curl -s -o /dev/null -D - "http://127.0.0.1:$(port_of $t)/json" | tr -d '\r' | awk 'tolower($1) == "x-cache:" {print $2}')
    [[ $status == HIT ]] || die "$t did not answer the second GET /json from its cache (X-Cache: '${status:-none}')"
done

mkdir -p "$TMP/m"
to_us() {
    awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/, "", v); printf "%.0f", v }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.0f", v * 1000 }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.0f", v * 1000000 } else print "nan" }'
}
run_wrk() { # target duration record?
    local t=$1 out rps p50 p99 errs
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$2" --latency "http://127.0.0.1:$(port_of "$t")/json" 2>&1 || true)
    [[ $3 == record ]] || return 0
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errs=$(( $(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out" | grep . || echo 0) + \
             $(awk -F'[ ,]+' '/Socket errors:/ {print $4 + $6 + $8 + $10}' <<<"$out" | grep . || echo 0) ))
    echo "${rps:-nan}" >>"$TMP/m/$t.rps"
    to_us "${p50:-x}" >>"$TMP/m/$t.p50"; echo >>"$TMP/m/$t.p50"
    to_us "${p99:-x}" >>"$TMP/m/$t.p99"; echo >>"$TMP/m/$t.p99"
    echo "$errs" >>"$TMP/m/$t.errors"
    log "  $t: ${rps:-?} req/s, p50 ${p50:-?}, p99 ${p99:-?}, errors $errs"
}
median() { grep -v '^$' "$TMP/m/$1.$2" | grep -v nan | sort -g | awk '{v[NR] = $1} END {
    if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }

log "warm-up"
for t in streamgate nginx; do run_wrk "$t" "$WARMUP" no; done
for round in $(seq "$ROUNDS"); do
    log "round $round/$ROUNDS"
    for t in streamgate nginx; do
        sleep 1
        run_wrk "$t" "$DURATION" record
    done
done

DATE=$(date +%Y-%m-%d)
RESULTS_FILE=${RESULTS_FILE:-$ROOT/benchmarks/results/$DATE-cache-hit.md}
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)
[[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null | head -1) ]] && COMMIT="$COMMIT (working tree modified)"
{
    echo "# Cache hits: Streamgate vs nginx proxy_cache ($DATE)"
    echo
    echo "- Machine: $(machine_line); nginx $(nginx -v 2>&1 | sed 's/.*version: //')"
    echo "- Streamgate commit: $COMMIT. Load average before the run: $LOAD_BEFORE."
    echo "- GET /json (237 B), both caches filled before measuring; wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency;"
    echo "  warm-up $WARMUP each, then $ROUNDS interleaved rounds; medians. Access logs off in both."
    echo "- nginx: proxy_cache with keys_zone in shared memory and bodies in files (the usual setup); Streamgate: route"
    echo "  \`cache: {ttl: 1h, shared: true}\` (entries in the heap, Caffeine)."
    echo
    echo "| | streamgate | nginx | streamgate/nginx |"
    echo "|---|---:|---:|---:|"
    s=$(median streamgate rps); n=$(median nginx rps); echo "| requests/s | $s | $n | $(ratio "$s" "$n") |"
    s=$(median streamgate p50); n=$(median nginx p50); echo "| latency p50 (µs) | $s | $n | $(ratio "$s" "$n") |"
    s=$(median streamgate p99); n=$(median nginx p99); echo "| latency p99 (µs) | $s | $n | $(ratio "$s" "$n") |"
    echo "| errors, all rounds | $(paste -sd+ "$TMP/m/streamgate.errors" | bc) | $(paste -sd+ "$TMP/m/nginx.errors" | bc) | |"
    echo
    echo "Per round, requests/s: streamgate $(paste -sd/ "$TMP/m/streamgate.rps"), nginx $(paste -sd/ "$TMP/m/nginx.rps")."
} >"$RESULTS_FILE"
cat "$RESULTS_FILE"
log "results written to $RESULTS_FILE"
