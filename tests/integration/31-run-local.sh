#!/usr/bin/env bash
# The README's run command end to end: it starts the broker, shadowd and metersim, circuit totals
# appear in the views, and Ctrl-C (SIGINT) stops everything.
. "$(dirname "$0")/lib.sh"
IT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/shadow-it.XXXXXX")
trap 'kill -TERM "$run_pid" 2> /dev/null; rm -rf "$IT_DIR"' EXIT
port=$(it_free_port)
IT_DB="$IT_DIR/run/shadow.db"
setsid env SHADOW_PORT="$port" SHADOW_RUN_DIR="$IT_DIR/run" "$IT_ROOT/deploy/run-local" \
    > "$IT_DIR/out.log" 2>&1 &
run_pid=$!
days=0
for _ in $(seq 1 120); do
    days=$(sqlite3 "$IT_DB" "SELECT count(*) FROM circuit_interval_daily WHERE hh_count > 0" 2> /dev/null || echo 0)
    [ "${days:-0}" -gt 0 ] && break
    sleep 1
done
check_eq "daily circuit totals appear within two minutes" 1 "$([ "${days:-0}" -gt 0 ] && echo 1)"
check_eq "half-hourly circuit totals appear" 1 \
    "$([ "$(it_sql 'SELECT count(*) FROM circuit_interval_hh')" -gt 0 ] && echo 1)"
check_eq "every example meter has a shadow" 9 "$(it_sql 'SELECT count(*) FROM shadow_documents')"
check_eq "it prints what to type next" 1 "$(grep -c 'mosquitto_sub -p' "$IT_DIR/out.log")"
kill -INT -- -"$run_pid"
for _ in $(seq 1 100); do kill -0 "$run_pid" 2> /dev/null || break; sleep 0.1; done
check_eq "Ctrl-C stops the run command" 1 "$(kill -0 "$run_pid" 2> /dev/null && echo 0 || echo 1)"
sleep 0.5
check_eq "no process is left behind" 0 "$(pgrep -fc "$IT_DIR/run/mosquitto.conf|127.0.0.1:$port" || true)"
check_eq "the broker port is closed" 1 "$( (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null && echo 0 || echo 1)"
check_eq "shadowd stopped cleanly" 1 "$(grep -c 'INFO shadowd: stopping' "$IT_DIR/run/shadowd.log")"
it_finish
