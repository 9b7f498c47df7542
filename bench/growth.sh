#!/usr/bin/env bash
# growth.sh — does ingest slow down as the database fills? The same ingest on an empty database
# and on one already holding many register readings.
#
#   bench/growth.sh [--meters M] [--readings R] [--reports N] [--prefilled DB]
#
# Both databases get the same M bench meters (shadowctl import). The full one is pre-filled with
# about R register readings straight through the store (bench/intervals --flows 2: hourly reads
# of every register's import and export, with their half-hours and circuit buckets), ending
# where the reports begin, so the reports continue the meters' history. Then, on each database,
# shadowd starts, every meter sends one report (not timed), and N reports are timed until all are
# answered. --prefilled reuses a database an earlier run kept (BENCH_KEEP=1 keeps it); its
# reports start after the newest reading it holds.
. "$(dirname "$0")/lib.sh"

METERS=1000
READINGS=1000000
REPORTS=20000
PREFILLED=
while [ $# -gt 0 ]; do
    case $1 in
    --meters) METERS=$2 ;;
    --readings) READINGS=$2 ;;
    --reports) REPORTS=$2 ;;
    --prefilled) PREFILLED=$2 ;;
    *) bench_die "usage: growth.sh [--meters M] [--readings R] [--reports N] [--prefilled DB]" ;;
    esac
    shift 2
done

bench_setup
bench_machine
STEP=1800
# Readings per meter-day: 2 registers × 2 flows × 24 hours.
DAYS=$(((READINGS + METERS * 96 - 1) / (METERS * 96)))
PREFILL_START=$(("$(date +%s)" - (DAYS + 30) * 86400))
PREFILL_START=$((PREFILL_START - PREFILL_START % 86400))
START=$((PREFILL_START + DAYS * 86400))

# ingest DB LABEL: times REPORTS reports on DB after one warm-up report per meter.
ingest() {
    local db=$1 line u0 s0 u1 s1
    bench_start_broker
    bench_start_shadowd "$db"
    "$LOADGEN" --broker "$BENCH_BROKER" --mode service --meters "$METERS" --reports "$METERS" \
        --start "$START" --timeout-s 600 > /dev/null || bench_die "warm-up failed"
    echo "\$ loadgen --mode service --meters $METERS --reports $REPORTS   # $2; $(uptime | sed 's/.*load/load/')"
    read -r u0 s0 <<< "$(bench_cpu_split "$BENCH_SHADOWD_PID")"
    line=$("$LOADGEN" --broker "$BENCH_BROKER" --mode service --meters "$METERS" \
        --reports "$REPORTS" --start $((START + STEP)) --timeout-s 600) || bench_die "ingest failed"
    read -r u1 s1 <<< "$(bench_cpu_split "$BENCH_SHADOWD_PID")"
    echo "$line shadowd_user_us_per_msg=$(((u1 - u0) / REPORTS)) shadowd_sys_us_per_msg=$(((s1 - s0) / REPORTS))"
    RATE=$(bench_field msgs_per_s "$line")
    bench_stop_shadowd
    bench_stop_broker
}

readings() {
    sqlite3 "$1" "SELECT count(*) FROM register_reads"
}

EMPTY="$BENCH_DIR/empty.db"
bench_import "$EMPTY" "$METERS"
ingest "$EMPTY" "empty database: $(readings "$EMPTY") readings before"
RATE_EMPTY=$RATE

FULL=${PREFILLED:-$BENCH_DIR/full.db}
if [ -z "$PREFILLED" ]; then
    bench_import "$FULL" "$METERS"
    echo "\$ intervals --db full.db --flows 2 --days $DAYS --start $PREFILL_START   # pre-fill"
    "$INTERVALS" --db "$FULL" --flows 2 --days "$DAYS" --start "$PREFILL_START" --block-days 7 ||
        bench_die "pre-fill failed"
fi
HELD=$(readings "$FULL")
if [ -n "$PREFILLED" ]; then # continue after whatever the kept database holds
    START=$(sqlite3 "$FULL" "SELECT max(ts) FROM register_reads")
    START=$((START - START % STEP + STEP))
fi
ingest "$FULL" "$HELD readings before"
echo "# $METERS meters: empty $RATE_EMPTY reports/s; with $HELD readings $RATE reports/s" \
    "($(echo "scale=3; $RATE / $RATE_EMPTY" | bc) of empty); database $(bench_db_bytes "$FULL") bytes"
