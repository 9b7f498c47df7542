#!/usr/bin/env bash
# The connection: retained online/offline status and Last Will, reconnect after a broker restart,
# persistent session (messages published while shadowd is away are handled when it returns), and
# at-least-once delivery across kill -9.
. "$(dirname "$0")/lib.sh"
export SHADOWD_UNKNOWN_METERS=provision # these tests are about documents, not the registry
it_setup
it_start_shadowd
status=$(mosquitto_sub -p "$IT_PORT" -t shadowd/status -C 1 -W 2)
check_json "retained status online with version and since" "$status" \
    '.status == "online" and (.version | type == "string") and (.since | test("Z$"))'

it_stop_shadowd
check_eq "SIGTERM exits 0" 0 $?
status=$(mosquitto_sub -p "$IT_PORT" -t shadowd/status -C 1 -W 2)
check_json "clean stop publishes retained offline with since" "$status" '.status == "offline" and has("since")'

it_pub meters/Q1/reported '{"state":{"n":1}}'
it_start_shadowd
get=$(it_request meters/Q1/get '' meters/Q1/get/accepted)
check_json "report published while shadowd was stopped is applied on return" "$get" '.state.reported.n == 1'

kill -9 "$IT_SHADOWD_PID"; wait "$IT_SHADOWD_PID" 2> /dev/null; IT_SHADOWD_PID=
status=""
for _ in $(seq 1 100); do
    status=$(mosquitto_sub -p "$IT_PORT" -t shadowd/status -C 1 -W 1)
    printf '%s' "$status" | grep -q offline && break
    sleep 0.2
done
check_json "kill -9 leaves the Last Will: offline without since" "$status" \
    '.status == "offline" and (has("since") | not)'

it_start_shadowd
it_stop_broker
sleep 1
it_launch_broker
it_start_recorder
get=""
for _ in $(seq 1 40); do
    get=$(IT_TIMEOUT=1 it_request meters/Q1/get '' meters/Q1/get/accepted) && break
done
check_json "shadowd reconnects and resubscribes after a broker restart" "$get" '.state.reported.n == 1'
check_eq "reconnect is logged" 1 "$([ "$(grep -c 'INFO mqtt: connected' "$IT_DIR/shadowd.log")" -ge 3 ] && echo 1)"

# At least once: kill -9 in the middle of a stream; every report the broker accepted ends up stored.
seq 1 300 | sed 's/.*/{"state":{"i":&}}/' > "$IT_DIR/stream"
( i=0; while read -r line; do i=$((i + 1)); mosquitto_pub -p "$IT_PORT" -q 1 -t "meters/K$i/reported" -m "$line"; done < "$IT_DIR/stream" ) &
pub=$!
sleep 1
kill -9 "$IT_SHADOWD_PID"; wait "$IT_SHADOWD_PID" 2> /dev/null; IT_SHADOWD_PID=
it_start_shadowd
wait "$pub"
it_barrier > /dev/null
check_eq "every report published across a kill -9 is stored" 300 \
    "$(it_sql "SELECT count(*) FROM shadow_documents WHERE serial LIKE 'K%' AND json_extract(document, '\$.state.reported.i') = CAST(substr(serial, 2) AS INTEGER)")"
check_eq "integrity check passes" ok "$(it_sql 'PRAGMA integrity_check')"
it_finish
