#!/usr/bin/env bash
# ingest.sh — how many reports a second shadowd commits and answers, against what the broker alone
# relays, and the latency of a report at 25 %, 50 % and 90 % of that maximum.
#
#   bench/ingest.sh [--meters "1000 10000"] [--reports N] [--relay-reports N]
#                   [--latency-s S] [--window W] [--relay-window W] [--nodelay]
#
# For each fleet size M, on a fresh broker each time:
#   relay     loadgen publishes N reports and subscribes to them itself (no shadowd running);
#   service   M bench meters are imported into a fresh database, shadowd started, each meter sends
#             one report (creating its shadow: not timed), then N reports are timed until shadowd
#             has answered every one on meters/+/reported/accepted;
#   latency   reports paced at 25/50/90 % of the service rate for S seconds each, publish → accepted
#             matched by clientToken.
# Every report is a new reading (its ts half an hour after the meter's last), so every one writes
# four register reads, a balance row, the shadow and its intervals. Beside each rate, the CPU time
# shadowd and mosquitto used per message (from /proc/PID/stat): on a shared machine the rates
# move with the load of other processes, CPU per message much less.
# Windows: mosquitto 2.0 finds a client's message by a linear search of its queue, and Paho 1.3
# keeps in-flight messages in lists, so deep queues slow both; the defaults are the best of a sweep
# (bench/RESULTS.md). --nodelay runs shadowd with bench/nodelay.so preloaded (TCP_NODELAY on its
# broker connection, which Paho does not set): an experiment, to measure Nagle's share.
. "$(dirname "$0")/lib.sh"

METERS="1000 10000"
REPORTS=20000
RELAY_REPORTS=50000
LATENCY_S=15
WINDOW=50
RELAY_WINDOW=10
STEP=1800
SHADOWD_WRAPPER=()
while [ $# -gt 0 ]; do
    case $1 in
    --meters) METERS=$2 ;;
    --reports) REPORTS=$2 ;;
    --relay-reports) RELAY_REPORTS=$2 ;;
    --latency-s) LATENCY_S=$2 ;;
    --window) WINDOW=$2 ;;
    --relay-window) RELAY_WINDOW=$2 ;;
    --nodelay)
        SHADOWD_WRAPPER=(env "LD_PRELOAD=$BENCH_BIN/bench/nodelay.so")
        shift
        continue
        ;;
    *) bench_die "usage: ingest.sh [--meters LIST] [--reports N] [--relay-reports N] [--latency-s S] [--window W] [--relay-window W] [--nodelay]" ;;
    esac
    shift 2
done

bench_setup
bench_machine
START=$(("$(date +%s)" - 30 * 86400))
START=$((START - START % STEP))

# load ARGS…: runs loadgen, prints its line with the CPU per message of the broker and (when
# running) shadowd appended, and sets LINE.
load() {
    local b0 s0=0 extra
    b0=$(bench_cpu_us "$BENCH_BROKER_PID")
    [ -n "$BENCH_SHADOWD_PID" ] && s0=$(bench_cpu_us "$BENCH_SHADOWD_PID")
    LINE=$("$LOADGEN" --broker "$BENCH_BROKER" --timeout-s 120 "$@") || {
        printf '%s\n' "$LINE"
        bench_die "loadgen failed: $*"
    }
    local n
    n=$(bench_field "done" "$LINE")
    extra="broker_cpu_us_per_msg=$((($(bench_cpu_us "$BENCH_BROKER_PID") - b0) / n))"
    [ -n "$BENCH_SHADOWD_PID" ] &&
        extra="$extra shadowd_cpu_us_per_msg=$((($(bench_cpu_us "$BENCH_SHADOWD_PID") - s0) / n))"
    LINE="$LINE $extra"
    printf '%s\n' "$LINE"
}

# The ts after a run of n reports over m meters that started at s.
after() {
    local rounds=$((($1 + $2 - 1) / $2))
    echo $(($3 + rounds * STEP))
}

relay() {
    local m=$1
    bench_start_broker
    echo "# relay baseline: $m meters, $RELAY_REPORTS reports, window $RELAY_WINDOW; $(uptime | sed 's/.*load/load/')"
    echo "\$ loadgen --mode relay --meters $m --reports $RELAY_REPORTS --window $RELAY_WINDOW"
    load --mode relay --meters "$m" --reports "$RELAY_REPORTS" --window "$RELAY_WINDOW" \
        --start "$START"
    RELAY_RATE=$(bench_field msgs_per_s "$LINE")
    bench_stop_broker
}

service() {
    local m=$1 db="$BENCH_DIR/ingest-$1.db" start=$START rate pct r n
    bench_start_broker
    bench_import "$db" "$m"
    echo "# service: imported $m meters in ${BENCH_IMPORT_S}s"
    bench_start_shadowd "$db" "${SHADOWD_WRAPPER[@]}"
    echo "# service: shadowd online ${BENCH_STARTUP_MS} ms after exec; one report per meter first"
    load --mode service --meters "$m" --reports "$m" --window "$WINDOW" --start "$start" > /dev/null
    start=$(after "$m" "$m" "$start")
    echo "\$ loadgen --mode service --meters $m --reports $REPORTS --window $WINDOW   # $(uptime | sed 's/.*load/load/')"
    load --mode service --meters "$m" --reports "$REPORTS" --window "$WINDOW" --start "$start"
    start=$(after "$REPORTS" "$m" "$start")
    rate=$(bench_field msgs_per_s "$LINE")
    echo "# $m meters: service $rate reports/s, relay $RELAY_RATE msgs/s," \
        "ratio $(echo "scale=3; $rate / $RELAY_RATE" | bc)"
    for pct in 25 50 90; do
        r=$((rate * pct / 100))
        n=$((r * LATENCY_S))
        echo "\$ loadgen --mode service --meters $m --reports $n --rate $r   # $pct % of max"
        load --mode service --meters "$m" --reports "$n" --rate "$r" --window 1000000000 \
            --start "$start"
        start=$(after "$n" "$m" "$start")
    done
    read -r hwm rss <<< "$(bench_rss "$BENCH_SHADOWD_PID")"
    echo "# shadowd VmHWM ${hwm} kB VmRSS ${rss} kB; database $(bench_db_bytes "$db") bytes"
    bench_stop_shadowd
    bench_stop_broker
    rm -f "$db" "$db-wal" "$db-shm"
}

for m in $METERS; do
    relay "$m"
    service "$m"
done
