#!/usr/bin/env bash
# The load baseline: BenchBackend direct, through Streamgate and through nginx, both "bare" (proxying only, access
# logs off), in interleaved rounds of
#   - wrk on GET /json (requests/s, p50, p99)
#   - SseLatencyProbe on GET /sse (per-event latency from backend send to client receive)
# Medians go to benchmarks/results/<date>-baseline.md (also printed). This is perf.sh with LOADS="json sse" and the
# bare profile; all of perf.sh's knobs apply (ROUNDS, WRK_DURATION, WARMUP_WRK_DURATION, SSE_STREAMS, SSE_EVENTS,
# SSE_INTERVAL_MS, SSE_DURATION_S, SSE_WARMUP_S, BACKEND_THREADS, STREAMGATE_JAVA_OPTS, STREAMGATE_JAR, BENCH_JAR,
# MVN_FLAGS, KEEP_TMP, RESULTS_FILE, …). See benchmarks/README.md.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LOADS=${LOADS:-json sse} JSON_PROFILES=${JSON_PROFILES:-bare} PROFILE=${PROFILE:-bare}
ROOT=$(cd "$HERE/../.." && pwd)
export RESULTS_FILE=${RESULTS_FILE:-$ROOT/benchmarks/results/$(date +%Y-%m-%d)-baseline.md}
export TITLE=${TITLE:-"Load baseline: Streamgate vs nginx vs direct ($(date +%Y-%m-%d))"}
exec "$HERE/perf.sh"
