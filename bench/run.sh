#!/usr/bin/env bash
# run.sh — every benchmark at a size that takes a few minutes in all (`make bench`); the figures
# are printed and also kept in $BUILD/bench/results.txt. Each script takes larger sizes when run
# by itself (see bench/README.md); bench/RESULTS.md records the figures of full-size runs.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
OUT=$BUILD/bench/results.txt
mkdir -p "$(dirname "$OUT")"

section() { printf '\n## %s\n' "$*"; }
{
    section "intervals: 500 registers, 28 days of hourly reads through the store"
    echo "\$ $BUILD/bench/intervals --registers 500 --days 28 --block-days 7"
    "$BUILD/bench/intervals" --registers 500 --days 28 --block-days 7
    section "ingest: relay baseline, service throughput and latency"
    bench/ingest.sh --meters "1000 10000" --reports 10000 --relay-reports 30000 --latency-s 8
    section "footprint: memory, bytes per meter-day, startup"
    bench/footprint.sh --meters 300 --days 2 --startup-meters "0 10000"
    section "growth: ingest on an empty database and on a pre-filled one"
    bench/growth.sh --meters 300 --readings 200000 --reports 5000
    if command -v valgrind > /dev/null; then
        section "profile: callgrind instructions per report"
        bench/profile.sh --meters 200 --reports 1000 --top 15
    fi
} 2>&1 | tee "$OUT"
echo "bench: figures kept in $OUT"
