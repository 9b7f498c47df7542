#!/usr/bin/env bash
# profile.sh — where shadowd spends its instructions per report, with callgrind.
#
#   bench/profile.sh [--meters M] [--reports N] [--top K]
#
# shadowd runs under valgrind --tool=callgrind on a fresh database with M bench meters, each of
# which has sent one report already (shadow and first read exist, as in steady operation). The
# counters are zeroed, N reports are sent (a window of 20 in flight), the counters dumped, and
# the K most expensive functions printed inclusive and exclusive, with instructions per report.
# Instruction counts do not depend on the machine's speed or load, so runs compare exactly.
. "$(dirname "$0")/lib.sh"

METERS=1000
REPORTS=5000
TOP=25
while [ $# -gt 0 ]; do
    case $1 in
    --meters) METERS=$2 ;;
    --reports) REPORTS=$2 ;;
    --top) TOP=$2 ;;
    *) bench_die "usage: profile.sh [--meters M] [--reports N] [--top K]" ;;
    esac
    shift 2
done
command -v valgrind > /dev/null || bench_die "valgrind is not installed"

bench_setup
bench_machine
bench_start_broker
DB="$BENCH_DIR/profile.db"
OUT="$BENCH_DIR/callgrind.out"
START=$(("$(date +%s)" - 30 * 86400))
START=$((START - START % 1800))
bench_import "$DB" "$METERS"
bench_start_shadowd "$DB" valgrind --tool=callgrind --callgrind-out-file="$OUT" \
    --dump-instr=no --separate-threads=no
echo "# shadowd under callgrind online after ${BENCH_STARTUP_MS} ms"
"$LOADGEN" --broker "$BENCH_BROKER" --mode service --meters "$METERS" --reports "$METERS" \
    --window 20 --start "$START" --timeout-s 600 > /dev/null || bench_die "warm-up failed"
callgrind_control --zero "$BENCH_SHADOWD_PID" > /dev/null || bench_die "callgrind_control failed"
echo "\$ loadgen --mode service --meters $METERS --reports $REPORTS --window 20   # under callgrind"
"$LOADGEN" --broker "$BENCH_BROKER" --mode service --meters "$METERS" --reports "$REPORTS" \
    --window 20 --start $((START + 1800)) --timeout-s 600 || bench_die "profiled run failed"
callgrind_control --dump=reports "$BENCH_SHADOWD_PID" > /dev/null || bench_die "dump failed"
bench_stop_shadowd

DUMP="$OUT.1" # the first dump; the file without a suffix holds what ran after it
[ -f "$DUMP" ] || bench_die "no callgrind dump"
TOTAL=$(awk '/^summary:/ { print $2 }' "$DUMP")
echo "# instructions: $TOTAL total, $((TOTAL / REPORTS)) per report"
# Functions on a stack when the counters were zeroed or dumped (thread entry points, main) show
# callgrind's partial-frame artefact: their whole inclusive cost appears as their own. They are
# left out of the exclusive lists; the same function under two spellings of its file is shown once.
ARTEFACT='clone|start_thread|below main|__libc_start|0x000000000001ab70 \[.*ld-linux'
annotate() {
    local mode=$1
    callgrind_annotate --inclusive="$mode" --threshold=100 --auto=no "$DUMP" 2> /dev/null |
        awk -v n="$REPORTS" -v top="$TOP" -v mode="$mode" -v skip="$ARTEFACT" '
        /^ *[0-9,]+ \( *[0-9.]+%\) / && !/PROGRAM TOTALS/ {
            if (mode == "no" && $0 ~ skip) next
            ir = $1; gsub(",", "", ir)
            line = $0; sub(/^ *[0-9,]+ \( *[0-9.]+%\) +/, "", line)
            obj = "?"
            if (line ~ /\]$/) { obj = line; sub(/^.*\[/, "", obj); sub(/\]$/, "", obj); sub(/^.*\//, "", obj) }
            fn = line; sub(/ \[[^]]*\]$/, "", fn)
            name = fn; sub(/^.*:/, "", name)
            if (name ~ /^0x/) name = obj ":" name
            if (seen[name]++) next
            if (mode == "no") by_obj[obj] += ir
            if (shown++ < top)
                printf "%12.0f %6.2f%%  %s  [%s]\n", ir / n, 100 * ir / total, name, obj
        }
        END {
            if (mode != "no") exit
            print "# exclusive instructions by library: instructions/report, share"
            for (o in by_obj) printf "%12.0f %6.2f%%  %s\n", by_obj[o] / n, 100 * by_obj[o] / total, o | "sort -rn"
        }' total="$TOTAL"
}
echo "# inclusive (a function and everything it calls): instructions/report, share, function"
annotate yes
echo "# exclusive (the function's own code): instructions/report, share, function"
annotate no
if [ -n "${BENCH_PROFILE_KEEP:-}" ]; then
    cp "$DUMP" "$BENCH_PROFILE_KEEP"
    echo "# callgrind dump kept in $BENCH_PROFILE_KEEP"
fi
