# shellcheck shell=bash
# lib.sh — shared by the bench scripts: a private mosquitto on a free loopback port, shadowd on a
# temporary database, a topology of bench meters, and cleanup of exactly what was started.
#
# A script sources this and calls bench_setup; everything it starts lives in $BENCH_DIR and is
# stopped by its own pid on exit. BUILD (default build) names the build directory.
set -u

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) BENCH_BIN=$BUILD ;;
*) BENCH_BIN=$BENCH_ROOT/$BUILD ;;
esac
LOADGEN=$BENCH_BIN/bench/loadgen
INTERVALS=$BENCH_BIN/bench/intervals
SHADOWD=$BENCH_BIN/shadowd
SHADOWCTL=$BENCH_BIN/shadowctl
# Registers per circuit: the A and B registers of 10 meters, as intervals maps them.
BENCH_CIRCUIT_METERS=10

bench_log() { printf '%s\n' "$*" >&2; }
bench_die() {
    bench_log "bench: $*"
    exit 1
}

bench_setup() {
    for bin in "$LOADGEN" "$INTERVALS" "$SHADOWD" "$SHADOWCTL"; do
        [ -x "$bin" ] || bench_die "$bin missing: run make bench (or make BUILD=$BUILD bench)"
    done
    BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/shadow-bench.XXXXXX")
    BENCH_BROKER_PID=
    BENCH_SHADOWD_PID=
    trap bench_cleanup EXIT
}

bench_cleanup() {
    bench_stop_shadowd
    bench_stop_broker
    if [ -n "${BENCH_KEEP:-}" ]; then
        bench_log "bench: kept $BENCH_DIR"
    else
        rm -rf "$BENCH_DIR"
    fi
}

# The machine and versions, for the record.
bench_machine() {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc: $(nproc); memory: $(free -g | awk '/^Mem:/ { print $2 " GiB" }'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "mosquitto: $(mosquitto -h 2> /dev/null | awk 'NR == 1 { print $3 }');" \
        "paho: $(dpkg-query -W -f '${Version}' libpaho-mqtt1.3 2> /dev/null || echo '?');" \
        "sqlite: $(sqlite3 --version | cut -d' ' -f1)"
    echo "commit: $(git -C "$BENCH_ROOT" rev-parse --short HEAD 2> /dev/null || echo '?')"
}

# ---- Broker --------------------------------------------------------------------------------------

bench_free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

# A fresh broker for each measurement: nothing queued from an earlier one, no persistence, the
# recommended options (no Nagle delay; never drop a slow subscriber's QoS 1 messages), plus any
# lines in BENCH_BROKER_EXTRA (experiments, e.g. "max_inflight_messages 0").
bench_start_broker() {
    BENCH_PORT=$(bench_free_port) || bench_die "no free port"
    BENCH_BROKER="tcp://127.0.0.1:$BENCH_PORT"
    cat > "$BENCH_DIR/mosquitto-bench.conf" << CONF
listener $BENCH_PORT 127.0.0.1
allow_anonymous true
persistence false
set_tcp_nodelay true
max_queued_messages 0
${BENCH_BROKER_EXTRA:-}
CONF
    mosquitto -c "$BENCH_DIR/mosquitto-bench.conf" >> "$BENCH_DIR/mosquitto.log" 2>&1 &
    BENCH_BROKER_PID=$!
    for _ in $(seq 1 50); do
        (exec 3<> "/dev/tcp/127.0.0.1/$BENCH_PORT") 2> /dev/null && return 0
        sleep 0.1
    done
    cat "$BENCH_DIR/mosquitto.log" >&2
    bench_die "mosquitto did not start"
}

bench_stop_broker() {
    if [ -n "${BENCH_BROKER_PID:-}" ]; then
        kill "$BENCH_BROKER_PID" 2> /dev/null
        wait "$BENCH_BROKER_PID" 2> /dev/null
    fi
    BENCH_BROKER_PID=
}

# ---- shadowd -------------------------------------------------------------------------------------

# bench_start_shadowd DB [WRAPPER…]: starts shadowd on DB (through WRAPPER, e.g. valgrind) and
# waits for its live `online` status; sets BENCH_SHADOWD_PID and BENCH_STARTUP_MS.
bench_start_shadowd() {
    local db=$1 line
    shift
    line=$("$LOADGEN" --broker "$BENCH_BROKER" --mode startup --timeout-s 600 \
        --child-log "$BENCH_DIR/shadowd.log" -- "$@" "$SHADOWD" --broker "$BENCH_BROKER" \
        --db "$db" --log-level warn) || {
        cat "$BENCH_DIR/shadowd.log" >&2
        bench_die "shadowd did not come online"
    }
    BENCH_SHADOWD_PID=$(bench_field pid "$line")
    BENCH_STARTUP_MS=$(bench_field startup_ms "$line")
}

# Stops shadowd with SIGTERM and waits for it to exit (it is not this shell's child).
bench_stop_shadowd() {
    [ -n "${BENCH_SHADOWD_PID:-}" ] || return 0
    kill -TERM "$BENCH_SHADOWD_PID" 2> /dev/null
    for _ in $(seq 1 600); do
        kill -0 "$BENCH_SHADOWD_PID" 2> /dev/null || break
        sleep 0.1
    done
    BENCH_SHADOWD_PID=
}

# bench_cpu_us PID: CPU time (user + system) the process has used, in µs.
bench_cpu_us() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f\n", ($14 + $15) * 1e6 / hz }' "/proc/$1/stat"
}

# bench_cpu_split PID: "user system" CPU time of the process, in µs.
bench_cpu_split() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f %.0f\n", $14 * 1e6 / hz, $15 * 1e6 / hz }' \
        "/proc/$1/stat"
}

# bench_rss PID: "VmHWM VmRSS" in kB.
bench_rss() {
    awk '/^VmHWM:/ { h = $2 } /^VmRSS:/ { r = $2 } END { print h, r }' "/proc/$1/status"
}

# ---- Fleet ---------------------------------------------------------------------------------------

# bench_topology N FILE: N bench meters (A and B registers) of one ESCO and site, and circuits of
# the registers of BENCH_CIRCUIT_METERS meters each.
bench_topology() {
    awk -v n="$1" -v per="$BENCH_CIRCUIT_METERS" 'BEGIN {
        print "{\"escos\":[{\"code\":\"BENCH\",\"name\":\"Bench ESCO\"}],"
        print "\"sites\":[{\"name\":\"Bench site\",\"esco\":\"BENCH\"}],"
        printf "\"meters\":["
        for (i = 0; i < n; i++)
            printf "%s{\"serial\":\"BENCH%07d\",\"esco\":\"BENCH\",\"mode\":\"active\",\"registers\":[{\"element\":\"A\"},{\"element\":\"B\"}]}\n", (i ? "," : ""), i
        printf "],\"circuits\":["
        for (c = 0; c * per < n; c++) {
            printf "%s{\"name\":\"Bench circuit %d\",\"site\":\"Bench site\",\"type\":\"power\",\"registers\":[", (c ? "," : ""), c
            for (i = c * per; i < n && i < (c + 1) * per; i++)
                printf "%s{\"meter\":\"BENCH%07d\",\"element\":\"A\",\"start\":\"2025-01-01T00:00:00Z\"},{\"meter\":\"BENCH%07d\",\"element\":\"B\",\"start\":\"2025-01-01T00:00:00Z\"}", (i > c * per ? "," : ""), i, i
            printf "]}\n"
        }
        print "]}"
    }' > "$2"
}

# bench_import DB N: registers N bench meters in DB with shadowctl import; sets BENCH_IMPORT_S.
bench_import() {
    local t0 t1
    bench_topology "$2" "$BENCH_DIR/topology.json"
    t0=$(date +%s.%N)
    "$SHADOWCTL" --db "$1" import "$BENCH_DIR/topology.json" > "$BENCH_DIR/import.log" 2>&1 || {
        cat "$BENCH_DIR/import.log" >&2
        bench_die "shadowctl import failed"
    }
    t1=$(date +%s.%N)
    BENCH_IMPORT_S=$(echo "$t1 - $t0" | bc)
}

# bench_field KEY "k=v k=v…": the value of KEY.
bench_field() {
    printf '%s\n' "$2" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2; exit }'
}

# bench_db_used DB: bytes of the pages in use, as a reader sees the database (committed WAL frames
# included, free pages not): steady whatever the WAL's state of checkpointing.
bench_db_used() {
    sqlite3 "$1" "SELECT (p.page_count - f.freelist_count) * s.page_size
                  FROM pragma_page_count p, pragma_freelist_count f, pragma_page_size s"
}

# bench_db_bytes DB: the main file plus its WAL.
bench_db_bytes() {
    local total=0 f
    for f in "$1" "$1-wal"; do
        [ -f "$f" ] && total=$((total + $(stat -c %s "$f")))
    done
    echo "$total"
}
