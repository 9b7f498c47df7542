#!/usr/bin/env bash
# footprint.sh — what a fleet costs at rest: shadowd's memory, database bytes per meter-day, and
# how long shadowd takes to come online with many meters registered.
#
#   bench/footprint.sh [--meters M] [--days D] [--startup-meters "0 10000 100000"]
#
# Memory and disk: M bench meters imported, shadowd started (RSS at rest), then D days of
# half-hourly reports from every meter (M × 48 × D reports, every one a new reading) sent as fast
# as shadowd takes them; RSS (VmHWM = peak, VmRSS = now, from /proc/PID/status) after each day,
# and the database size (pages in use, as a reader sees them) after each day. Bytes per
# meter-day are the growth of
# the database over the days after the first, divided by M × (D − 1): the cost of history, not of
# the registry and the first shadow. The largest tables are listed (SQLite's dbstat).
# Startup: for each count S, a fresh database with S meters imported (import time shown), and
# the time from exec of shadowd to its live `online` status; then the same for the database with
# M meters' shadows and D days of history.
. "$(dirname "$0")/lib.sh"

METERS=1000
DAYS=2
STARTUP_METERS="0 10000 100000"
while [ $# -gt 0 ]; do
    case $1 in
    --meters) METERS=$2 ;;
    --days) DAYS=$2 ;;
    --startup-meters) STARTUP_METERS=$2 ;;
    *) bench_die "usage: footprint.sh [--meters M] [--days D] [--startup-meters LIST]" ;;
    esac
    shift 2
done
[ "$DAYS" -ge 2 ] || bench_die "--days must be at least 2"

bench_setup
bench_machine
STEP=1800
START=$(("$(date +%s)" - (DAYS + 30) * 86400))
START=$((START - START % 86400))
DB="$BENCH_DIR/footprint.db"

rss() {
    local hwm now
    read -r hwm now <<< "$(bench_rss "$BENCH_SHADOWD_PID")"
    echo "VmHWM=${hwm}kB VmRSS=${now}kB"
}

memory_and_disk() {
    local day line first_bytes=0 bytes
    bench_start_broker
    bench_import "$DB" "$METERS"
    bench_start_shadowd "$DB"
    echo "# $METERS meters imported in ${BENCH_IMPORT_S}s; shadowd at rest: $(rss)"
    echo "day reports msgs_per_s shadowd_memory db_bytes_used"
    for day in $(seq 1 "$DAYS"); do
        line=$("$LOADGEN" --broker "$BENCH_BROKER" --mode service --meters "$METERS" \
            --reports $((METERS * 48)) --start $((START + (day - 1) * 86400)) --step-s "$STEP" \
            --timeout-s 600) || bench_die "ingest of day $day failed"
        bytes=$(bench_db_used "$DB")
        [ "$day" -eq 1 ] && first_bytes=$bytes
        echo "$day $((METERS * 48)) $(bench_field msgs_per_s "$line") $(rss) $bytes"
    done
    bench_stop_shadowd
    bench_stop_broker
    echo "# files after a clean stop: $(bench_db_bytes "$DB") bytes"
    echo "# $bytes bytes in use;" \
        "$(((bytes - first_bytes) / (METERS * (DAYS - 1)))) bytes per meter-day of history" \
        "(growth after day 1), $((bytes / (METERS * DAYS))) bytes per meter-day overall"
    echo "# largest tables and indexes (bytes, bytes per meter-day):"
    sqlite3 "$DB" "SELECT name, sum(pgsize), sum(pgsize) / ($METERS * $DAYS) FROM dbstat
                   GROUP BY name ORDER BY 2 DESC LIMIT 8" | tr '|' ' ' | sed 's/^/#   /'
}

startup() {
    local s db
    for s in $STARTUP_METERS; do
        db="$BENCH_DIR/startup-$s.db"
        bench_start_broker
        if [ "$s" -gt 0 ]; then
            bench_import "$db" "$s"
        else
            BENCH_IMPORT_S=0
        fi
        bench_start_shadowd "$db"
        echo "startup meters=$s import_s=$BENCH_IMPORT_S startup_ms=$BENCH_STARTUP_MS $(rss)"
        bench_stop_shadowd
        bench_stop_broker
        rm -f "$db" "$db-wal" "$db-shm"
    done
    bench_start_broker
    bench_start_shadowd "$DB"
    echo "startup meters=$METERS with_history_days=$DAYS startup_ms=$BENCH_STARTUP_MS $(rss)"
    bench_stop_shadowd
    bench_stop_broker
}

memory_and_disk
startup
