#!/usr/bin/env bash
# soak.sh — does shadowd's memory stay flat over a long run (`make soak`, one hour by default)?
#
#   bench/soak.sh [--seconds S] [--meters M] [--speed X] [--sample-s N]
#
# metersim drives M synthetic meters at QoS 1 through a private broker for S real seconds, at X
# simulated seconds per real second (live reports every 30 simulated minutes, mediators' daily
# profile logs, 1 % malformed and 1 % duplicated messages, offline spells), so every code path of
# a normal day runs again and again: reports, reads batches, rejections, events, circuit buckets,
# the offline scan, stats. Every N seconds it prints shadowd's RSS (VmRSS) and peak (VmHWM), its
# CPU time, and the database size. At the end it fits a line through the RSS samples of the
# second half of the run (after SQLite's page cache and the allocator have warmed up) and prints
# the slope in kB per hour, with the first and last samples of that half.
. "$(dirname "$0")/lib.sh"

SECONDS_TOTAL=3600
METERS=500
SPEED=180
SAMPLE_S=60
while [ $# -gt 0 ]; do
    case $1 in
    --seconds) SECONDS_TOTAL=$2 ;;
    --meters) METERS=$2 ;;
    --speed) SPEED=$2 ;;
    --sample-s) SAMPLE_S=$2 ;;
    *) bench_die "usage: soak.sh [--seconds S] [--meters M] [--speed X] [--sample-s N]" ;;
    esac
    shift 2
done
METERSIM=$BENCH_BIN/metersim
[ -x "$METERSIM" ] || bench_die "$METERSIM missing: run make"

bench_setup
bench_machine
DB="$BENCH_DIR/soak.db"
SIMULATED=$((SECONDS_TOTAL * SPEED))
# metersim never runs ahead of the wall clock: start far enough back for the whole run.
START=$(date -u -d "@$(($(date +%s) - SIMULATED - 86400))" +%Y-%m-%dT00:00:00Z)

bench_start_broker
"$METERSIM" --meters "$METERS" --write-topology "$BENCH_DIR/fleet.json" ||
    bench_die "metersim could not write the fleet"
"$SHADOWCTL" --db "$DB" import "$BENCH_DIR/fleet.json" > "$BENCH_DIR/import.log" 2>&1 ||
    bench_die "shadowctl import failed"
bench_start_shadowd "$DB"
echo "# $METERS meters, ${SECONDS_TOTAL}s at speed $SPEED (about" \
    "$((METERS * SPEED / 1800)) live reports/s), simulated start $START"
"$METERSIM" --broker "$BENCH_BROKER" --meters "$METERS" --start "$START" --speed "$SPEED" \
    --duration "$SIMULATED" --malformed 1 --duplicate 1 --log-level warn \
    2> "$BENCH_DIR/metersim.log" &
SIM_PID=$!

echo "elapsed_s VmRSS_kB VmHWM_kB cpu_s db_bytes"
: > "$BENCH_DIR/samples"
t0=$(date +%s)
while kill -0 "$SIM_PID" 2> /dev/null; do
    sleep "$SAMPLE_S"
    kill -0 "$BENCH_SHADOWD_PID" 2> /dev/null || bench_die "shadowd died: $(tail -5 "$BENCH_DIR/shadowd.log")"
    read -r hwm rss <<< "$(bench_rss "$BENCH_SHADOWD_PID")"
    cpu=$(($(bench_cpu_us "$BENCH_SHADOWD_PID") / 1000000))
    line="$(($(date +%s) - t0)) $rss $hwm $cpu $(bench_db_bytes "$DB")"
    echo "$line" | tee -a "$BENCH_DIR/samples"
done
wait "$SIM_PID" || bench_die "metersim failed: $(tail -5 "$BENCH_DIR/metersim.log")"
grep '^metersim: published=' "$BENCH_DIR/metersim.log" || true
grep -c 'ERROR' "$BENCH_DIR/shadowd.log" | sed 's/^/shadowd error lines: /'

# Least-squares slope of RSS over the second half of the samples, in kB per hour.
awk -v total="$SECONDS_TOTAL" '
    $1 >= total / 2 { n++; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2
                      if (n == 1) first = $2; last = $2 }
    END {
        if (n < 2) { print "too few samples in the second half"; exit 1 }
        slope = (n * sxy - sx * sy) / (n * sxx - sx * sx) * 3600
        printf "second half: %d samples, VmRSS %d kB -> %d kB, slope %.0f kB/h (%.2f %% of RSS per hour)\n",
               n, first, last, slope, 100 * slope / last
    }' "$BENCH_DIR/samples"
