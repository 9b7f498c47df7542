# lib.sh — helpers for integration tests: a real mosquitto on a free loopback port, a real
# shadowd on a temporary SQLite file, a recorder of every message, and assertions.
#
# A test file sources this, calls it_setup, then publishes and asserts; it_finish stops everything
# and reports. Every recorded message is one line `topic payload` in $IT_DIR/sub.log.
set -u

IT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
SHADOWD_BIN=${SHADOWD_BIN:-$IT_ROOT/$BUILD/shadowd}
IT_NAME=$(basename "$0" .sh)
IT_PASS=0
IT_FAIL=0
IT_TIMEOUT=${IT_TIMEOUT:-10}

it_log() { printf '%s\n' "$*" >&2; }

# ---- Assertions ---------------------------------------------------------------------------------

it_ok() {
    IT_PASS=$((IT_PASS + 1))
    printf 'ok - %s: %s\n' "$IT_NAME" "$1"
}

it_not_ok() {
    IT_FAIL=$((IT_FAIL + 1))
    printf 'not ok - %s: %s\n' "$IT_NAME" "$1"
    shift
    [ $# -gt 0 ] && printf '#   %s\n' "$@"
    return 0
}

# check_json NAME JSON JQ-EXPR: the expression must be true for JSON.
check_json() {
    if [ -n "$2" ] && printf '%s' "$2" | jq -e "$3" > /dev/null 2>&1; then
        it_ok "$1"
    else
        it_not_ok "$1" "expected: $3" "got: ${2:-<nothing>}"
    fi
}

# check_eq NAME EXPECTED ACTUAL
check_eq() {
    if [ "$2" = "$3" ]; then it_ok "$1"; else it_not_ok "$1" "expected: $2" "got: $3"; fi
}

# ---- Processes ----------------------------------------------------------------------------------

it_free_port() {
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

it_start_broker() {
    IT_PORT=$(it_free_port) || { it_log "no free port"; exit 1; }
    cat > "$IT_DIR/mosquitto.conf" << CONF
listener $IT_PORT 127.0.0.1
allow_anonymous true
persistence true
persistence_location $IT_DIR/
set_tcp_nodelay true
max_queued_messages 0
# Run as root, mosquitto would switch to its own user and could not save its persistence here.
user $(id -un)
CONF
    it_launch_broker
}

# Runs mosquitto on $IT_DIR/mosquitto.conf and waits for its port: the first start, or a restart
# on the same port and configuration (its persistence included).
it_launch_broker() {
    mosquitto -c "$IT_DIR/mosquitto.conf" >> "$IT_DIR/mosquitto.log" 2>&1 &
    IT_BROKER_PID=$!
    for _ in $(seq 1 50); do
        (exec 3<> "/dev/tcp/127.0.0.1/$IT_PORT") 2> /dev/null && return 0
        sleep 0.1
    done
    it_log "mosquitto did not start"; cat "$IT_DIR/mosquitto.log" >&2
    exit 1
}

it_stop_broker() {
    [ -n "${IT_BROKER_PID:-}" ] && kill "$IT_BROKER_PID" 2> /dev/null && wait "$IT_BROKER_PID" 2> /dev/null
    IT_BROKER_PID=
}

# it_start_shadowd [extra flags…]: starts shadowd and waits for its retained `online` status
# (a new one: not the status a previous instance left behind).
it_start_shadowd() {
    local before
    before=$(it_status)
    # shellcheck disable=SC2086
    ${SHADOWD_WRAPPER:-} "$SHADOWD_BIN" --broker "tcp://127.0.0.1:$IT_PORT" --db "$IT_DB" \
        --log-level debug "$@" >> "$IT_DIR/shadowd.log" 2>&1 &
    IT_SHADOWD_PID=$!
    for _ in $(seq 1 $((IT_TIMEOUT * 10))); do
        local now
        now=$(it_status)
        if grep -q '"online"' "$IT_DIR/status" && { [ "$now" != "$before" ] || ! printf '%s' "$before" | grep -q '"online"'; }; then
            return 0
        fi
        sleep 0.1
    done
    it_log "shadowd did not come online"; cat "$IT_DIR/shadowd.log" >&2
    exit 1
}

# The retained status payload (also left in $IT_DIR/status), or nothing.
it_status() {
    mosquitto_sub -p "$IT_PORT" -t "${IT_ROOT_PREFIX:-}shadowd/status" -C 1 -W 1 > "$IT_DIR/status" 2> /dev/null
    cat "$IT_DIR/status"
}

# Stops shadowd with SIGTERM and returns its exit code.
it_stop_shadowd() {
    local rc=0
    if [ -n "${IT_SHADOWD_PID:-}" ]; then
        kill -TERM "$IT_SHADOWD_PID" 2> /dev/null
        wait "$IT_SHADOWD_PID" || rc=$?
    fi
    IT_SHADOWD_PID=
    return $rc
}

# Records every message under the given filters (default meters/#) into sub.log.
it_start_recorder() {
    local filters=()
    local f
    for f in "${@:-meters/#}"; do filters+=(-t "$f"); done
    # A recorder started again (after a broker restart) replaces the old one, which reconnects.
    [ -n "${IT_RECORDER_PID:-}" ] && kill "$IT_RECORDER_PID" 2> /dev/null
    : > "$IT_DIR/sub.log"
    mosquitto_sub -p "$IT_PORT" -q 1 -v "${filters[@]}" >> "$IT_DIR/sub.log" 2> /dev/null &
    IT_RECORDER_PID=$!
    # The recorder is subscribed once it sees a retained probe message.
    mosquitto_pub -p "$IT_PORT" -q 1 -r -t "meters/_probe/x" -m probe
    for _ in $(seq 1 50); do
        grep -q '^meters/_probe/x ' "$IT_DIR/sub.log" && break
        sleep 0.1
    done
    mosquitto_pub -p "$IT_PORT" -q 1 -r -t "meters/_probe/x" -n
}

it_setup() {
    IT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/shadow-it.XXXXXX")
    IT_DB="$IT_DIR/shadow.db"
    trap it_cleanup EXIT
    it_start_broker
    it_start_recorder "$@"
}

it_cleanup() {
    [ -n "${IT_RECORDER_PID:-}" ] && kill "$IT_RECORDER_PID" 2> /dev/null
    [ -n "${IT_SHADOWD_PID:-}" ] && kill -TERM "$IT_SHADOWD_PID" 2> /dev/null && wait "$IT_SHADOWD_PID" 2> /dev/null
    it_stop_broker
    if [ "$IT_FAIL" -gt 0 ] || [ -n "${IT_KEEP:-}" ]; then
        it_log "# kept $IT_DIR"
    else
        rm -rf "$IT_DIR"
    fi
}

# Prints the summary line and sets the exit code.
it_finish() {
    if [ -n "${IT_SHADOWD_PID:-}" ]; then
        local rc=0
        it_stop_shadowd || rc=$?
        check_eq "shadowd exits 0 on SIGTERM" 0 "$rc"
    fi
    echo "$IT_PASS $IT_FAIL" > "${IT_RESULTS:-/dev/null}"
    [ "$IT_FAIL" -eq 0 ]
}

# ---- Messages -----------------------------------------------------------------------------------

it_pub() {
    mosquitto_pub -p "$IT_PORT" -q 1 -t "$1" -m "$2"
}

# Publishes a file's bytes as one message (for binary or very large payloads).
it_pub_file() {
    mosquitto_pub -p "$IT_PORT" -q 1 -t "$1" -f "$2"
}

# The number of lines recorded so far: a mark to look for messages after.
it_mark() {
    wc -l < "$IT_DIR/sub.log"
}

# it_next MARK TOPIC [N]: the payload of the Nth (default 1st) message on exactly TOPIC recorded
# after MARK, waiting for it; prints nothing on timeout.
it_next() {
    local mark=$1 topic=$2 n=${3:-1} line
    for _ in $(seq 1 $((IT_TIMEOUT * 20))); do
        line=$(tail -n +"$((mark + 1))" "$IT_DIR/sub.log" | awk -v t="$topic" -v n="$n" \
            'index($0, t " ") == 1 { if (++c == n) { print substr($0, length(t) + 2); exit } }')
        if [ -n "$line" ]; then
            printf '%s' "$line"
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# it_count MARK TOPIC: messages on exactly TOPIC after MARK (no waiting).
it_count() {
    tail -n +"$(($1 + 1))" "$IT_DIR/sub.log" | awk -v t="$2" 'index($0, t " ") == 1 { c++ } END { print c + 0 }'
}

# it_request TOPIC PAYLOAD RESPONSE-TOPIC: publishes and prints the response.
it_request() {
    local mark
    mark=$(it_mark)
    it_pub "$1" "$2"
    it_next "$mark" "$3"
}

# Waits until shadowd has handled everything published so far, by a get round trip on a
# dedicated meter, and prints the mark after it.
it_barrier() {
    local mark
    mark=$(it_mark)
    it_pub "meters/barrier/get" '{"clientToken":"barrier"}'
    it_next "$mark" "meters/barrier/get/rejected" > /dev/null || it_next "$mark" "meters/barrier/get/accepted" > /dev/null
    it_mark
}

it_sql() {
    sqlite3 -batch -noheader "$IT_DB" "$1"
}
