#!/usr/bin/env bash
# Slowloris against Streamgate's plain listener: slowhttptest (Debian package slowhttptest) in slow-headers mode
# holds hundreds of connections open, each sending one more header line every few seconds, while a normal client
# (curl, from another loopback address, 127.0.0.2) keeps requesting GET /json. Reported: the normal client's
# success rate and latency (p50/p99/max) before and during the attack, and slowhttptest's own connection counts.
#
# Two configurations are attacked in turn:
#   cap-256   request_header_timeout 10s, max_connections_per_ip 256 (the attacker is held to 256 connections)
#   no-cap    request_header_timeout 10s, max_connections_per_ip 100000 (only the header deadline defends)
#
# Knobs: PLAIN_PORT [18480]  BACKEND_PORT [18180]  ATTACK_CONNECTIONS [500]  ATTACK_RATE [200 per s]
#        ATTACK_SECONDS [30]  ATTACK_INTERVAL [5 s between header lines]  BASELINE_SECONDS [10]
#        CLIENT_PAUSE [0.02 s between normal requests]  CLIENT_SOURCE [127.0.0.2]
#        and those of lib.sh (STREAMGATE_JAR, BENCH_JAR, MVN_FLAGS, KEEP_TMP).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PLAIN_PORT=${PLAIN_PORT:-18480}
BACKEND_PORT=${BACKEND_PORT:-18180}
ATTACK_CONNECTIONS=${ATTACK_CONNECTIONS:-500}
ATTACK_RATE=${ATTACK_RATE:-200}
ATTACK_SECONDS=${ATTACK_SECONDS:-30}
ATTACK_INTERVAL=${ATTACK_INTERVAL:-5}
BASELINE_SECONDS=${BASELINE_SECONDS:-10}
CLIENT_PAUSE=${CLIENT_PAUSE:-0.02}
CLIENT_SOURCE=${CLIENT_SOURCE:-127.0.0.2}

require_tools "slowhttptest (apt-get install slowhttptest)" "curl (apt-get install curl)" "java (apt-get install openjdk-17-jre-headless)"
ensure_jars
require_free_ports "$PLAIN_PORT" "$BACKEND_PORT"
URL=http://127.0.0.1:$PLAIN_PORT/json

start_bench_backend "$BACKEND_PORT"

# normal_client SECONDS OUTFILE: one line per request, "<http code> <seconds>"; curl's code 000 = failed.
normal_client() {
    local end=$((SECONDS + $1))
    while ((SECONDS < end)); do
        curl -s -o /dev/null --interface "$CLIENT_SOURCE" --max-time 5 -w '%{http_code} %{time_total}\n' "$URL" || true
        sleep "$CLIENT_PAUSE"
    done >"$2"
}

# summarize LABEL FILE: a table row
summarize() {
    local total ok
    total=$(wc -l <"$2")
    ok=$(awk '$1 == 200' "$2" | wc -l)
    awk '$1 == 200 {print $2 * 1000}' "$2" >"$2.ms"
    printf '| %s | %d | %d | %s | %s | %s | %s |\n' "$1" "$total" "$ok" \
        "$(awk -v o="$ok" -v t="$total" 'BEGIN { if (t == 0) print "n/a"; else printf "%.2f %%", 100 * o / t }')" \
        "$(percentile "$2.ms" 50)" "$(percentile "$2.ms" 99)" "$(percentile "$2.ms" 100)"
}

ROWS=()
ATTACK_NOTES=()
for variant in cap-256 no-cap; do
    per_ip=256
    [[ $variant == no-cap ]] && per_ip=100000
    cat >"$TMP/streamgate-$variant.yaml" <<EOF
server:
  listen: "127.0.0.1:$PLAIN_PORT"
  drain_timeout: 1s
  limits:
    request_header_timeout: 10s
    max_connections_per_ip: $per_ip
upstreams:
  bench:
    endpoints: ["http://127.0.0.1:$BACKEND_PORT"]
routes:
  - path_prefix: /
    upstream: bench
EOF
    start_streamgate "$TMP/streamgate-$variant.yaml" "$PLAIN_PORT"
    gateway_pid=${PIDS[-1]}
    curl -s -o /dev/null --interface "$CLIENT_SOURCE" --max-time 5 "$URL" || die "the normal client cannot reach $URL from $CLIENT_SOURCE"

    for _ in $(seq 200); do # warm the JIT so the baseline is not measuring a cold JVM
        curl -s -o /dev/null --interface "$CLIENT_SOURCE" --max-time 5 "$URL" || true
    done
    log "$variant: baseline, ${BASELINE_SECONDS}s without attack"
    normal_client "$BASELINE_SECONDS" "$TMP/baseline-$variant.txt"
    ROWS+=("$(summarize "$variant, no attack" "$TMP/baseline-$variant.txt")")

    log "$variant: slowhttptest -H -c $ATTACK_CONNECTIONS -r $ATTACK_RATE -i $ATTACK_INTERVAL for ${ATTACK_SECONDS}s"
    slowhttptest -H -c "$ATTACK_CONNECTIONS" -r "$ATTACK_RATE" -i "$ATTACK_INTERVAL" -x 24 -p 3 -l "$ATTACK_SECONDS" \
        -u "$URL" -g -o "$TMP/slow-$variant" >"$TMP/slowhttptest-$variant.log" 2>&1 &
    attack_pid=$!
    PIDS+=("$attack_pid")
    sleep 3 # let the attack ramp up before measuring
    normal_client $((ATTACK_SECONDS - 5)) "$TMP/attack-$variant.txt"
    wait "$attack_pid" || true
    ROWS+=("$(summarize "$variant, during slowloris" "$TMP/attack-$variant.txt")")
    # slowhttptest's CSV: seconds,closed,pending,connected,service available (non-zero while its probe, sent from
    # the attacker's address 127.0.0.1, gets an answer).
    csv=$TMP/slow-$variant.csv
    verdict=$(sed 's/\x1b\[[0-9;]*m//g' "$TMP/slowhttptest-$variant.log" | grep -oE 'service available: *[A-Z]+' | tail -1 | awk '{print $NF}')
    if [[ -f $csv ]]; then
        ATTACK_NOTES+=("$variant: attacker connections open at once (max): $(awk -F, 'NR > 1 && $4 > m {m = $4} END {print m + 0}' "$csv"); closed by the server during the run: $(awk -F, 'NR > 1 {c = $2} END {print c + 0}' "$csv"); slowhttptest's own probe (from the attacker's 127.0.0.1) answered in $(awk -F, 'NR > 1 {n++; if ($5 > 0) a++} END {printf "%d of %d", a, n}' "$csv") samples, final verdict 'service available: ${verdict:-?}'")
    fi

    kill -TERM "$gateway_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$gateway_pid" 2>/dev/null || break; sleep 0.1; done
    sleep 1
done

{
    echo "## Slowloris (slowhttptest -H) against the plain listener while a normal client requests GET /json"
    echo
    echo "- $(machine_line); $(slowhttptest -h 2>&1 | grep -m1 -oE 'version [0-9.]+')"
    echo "- Attack: $ATTACK_CONNECTIONS connections at $ATTACK_RATE/s from 127.0.0.1, a header line every ${ATTACK_INTERVAL}s, ${ATTACK_SECONDS}s; normal client: sequential curl from $CLIENT_SOURCE, ${CLIENT_PAUSE}s pause, 5 s timeout"
    echo
    echo "| configuration | requests | 200 | success | p50 ms | p99 ms | max ms |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${ROWS[@]}"
    echo
    printf -- '- %s\n' "${ATTACK_NOTES[@]}"
}
