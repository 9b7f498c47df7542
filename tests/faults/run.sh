#!/usr/bin/env bash
# Fault tests (`make faults`, SPEC §11): a steady QoS 1 load from metersim while shadowd is killed
# with -9 at random moments, the broker restarts, the database's disk fills up, and the database
# is held by a long reader and then by a writer beyond the busy timeout. Afterwards everything is
# checked against metersim's own record of what the broker acknowledged to it (--log):
#   - every acknowledged report and every read of an acknowledged batch is in the history exactly
#     once, with its value (balance rows and register reads; nothing else is there);
#   - no shadow's version ever went down, and each shadow ends at its latest acknowledged report;
#   - PRAGMA integrity_check passes after every fault;
#   - shadowd came back by itself each time, and while the disk was full it answered nothing
#     (so nothing was acknowledged), said so in its log, and then resumed.
# The full disk is made by tests/faults/enospc.so, preloaded into shadowd: writes to the database's
# directory fail with ENOSPC while a flag file exists.
. "$(dirname "$0")/../integration/lib.sh"
IT_NAME=faults
SIM="$IT_ROOT/$BUILD/metersim"
SHIM="$IT_ROOT/$BUILD/faults/enospc.so"
[ -x "$SIM" ] && [ -f "$SHIM" ] || { it_log "build first: make faults"; exit 1; }
SEED=${FAULT_SEED:-$((RANDOM % 1000 + 1))}
RANDOM=$SEED
it_log "# faults: seed $SEED (FAULT_SEED=$SEED repeats the kill times)"

export SHADOWD_STATS_INTERVAL_S=2
it_setup
mkdir -p "$IT_DIR/db"
IT_DB="$IT_DIR/db/shadow.db"
FULL_FLAG="$IT_DIR/disk-full"
SHADOWD_WRAPPER="env LD_PRELOAD=$SHIM SHADOW_FAULT_FULL_FLAG=$FULL_FLAG SHADOW_FAULT_FULL_DIR=$IT_DIR/db/"
METERS=100
SPEED=1800 # 100 meters reporting every 30 simulated minutes: about 100 reports a second
LOAD_S=${FAULT_LOAD_S:-100}
START=$(date -u -d '3 days ago' +%Y-%m-%dT00:00:00Z)

"$SIM" --meters "$METERS" --write-topology "$IT_DIR/fleet.json"
"$IT_ROOT/$BUILD/shadowctl" --db "$IT_DB" import "$IT_DIR/fleet.json" > /dev/null
it_start_shadowd
"$SIM" --broker "tcp://127.0.0.1:$IT_PORT" --meters "$METERS" --start "$START" --speed "$SPEED" \
    --duration $((LOAD_S * SPEED)) --duplicate 2 --reads-batch 20 --seed "$SEED" \
    --client-id metersim-faults --log "$IT_DIR/sim.jsonl" --log-level warn 2> "$IT_DIR/metersim.log" &
SIM_PID=$!

# Shadow versions after each fault, to prove none went backwards.
VERSIONS=0
snapshot_versions() {
    VERSIONS=$((VERSIONS + 1))
    it_sql "SELECT serial, version FROM shadow_documents" > "$IT_DIR/versions.$VERSIONS"
}
check_integrity() {
    check_eq "$1: the database passes integrity_check" ok "$(it_sql 'PRAGMA integrity_check')"
}
log_count() { grep -c "$1" "$IT_DIR/shadowd.log"; }
# wait_log_more PATTERN BEFORE: waits up to 15 s for more than BEFORE log lines matching PATTERN.
wait_log_more() {
    for _ in $(seq 1 150); do
        [ "$(log_count "$1")" -gt "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
# check_log_more NAME PATTERN BEFORE: passes when the log gains a line matching PATTERN.
check_log_more() {
    if wait_log_more "$2" "$3"; then it_ok "$1"; else it_not_ok "$1" "no new line: $2"; fi
}
accepted_since() { tail -n +"$(($1 + 1))" "$IT_DIR/sub.log" | grep -c '/reported/accepted ' || true; }

sleep 3

# ---- (a) kill -9 at random moments -------------------------------------------------------------
for k in 1 2 3 4; do
    sleep "$((RANDOM % 4 + 1)).$((RANDOM % 10))"
    kill -9 "$IT_SHADOWD_PID"
    wait "$IT_SHADOWD_PID" 2> /dev/null
    IT_SHADOWD_PID=
    snapshot_versions
    check_integrity "kill -9 #$k"
    it_start_shadowd
    it_ok "kill -9 #$k: shadowd comes back online"
done

# ---- (b) a broker restart ----------------------------------------------------------------------
sleep 2
mark_connects=$(grep -c 'INFO mqtt: connected' "$IT_DIR/shadowd.log")
it_stop_broker
sleep 1
it_launch_broker
it_start_recorder
for _ in $(seq 1 300); do
    [ "$(grep -c 'INFO mqtt: connected' "$IT_DIR/shadowd.log")" -gt "$mark_connects" ] && break
    sleep 0.1
done
check_eq "broker restart: shadowd reconnects by itself" 1 \
    "$([ "$(grep -c 'INFO mqtt: connected' "$IT_DIR/shadowd.log")" -gt "$mark_connects" ] && echo 1)"
mark=$(it_mark)
sleep 3
check_eq "broker restart: reports are answered again" 1 "$([ "$(accepted_since "$mark")" -gt 0 ] && echo 1)"
snapshot_versions
check_integrity "broker restart"

# ---- (c) the disk is full ----------------------------------------------------------------------
holds=$(log_count 'ERROR store: cannot write: holding')
resumes=$(log_count 'WARN store: writable again')
touch "$FULL_FLAG"
check_log_more "disk full: shadowd says it cannot write, in its log" \
    'ERROR store: cannot write: holding' "$holds"
mark=$(it_mark)
reads_before=$(it_sql "SELECT count(*) FROM register_reads")
sleep 4
check_eq "disk full: nothing is answered (so nothing is acknowledged)" 0 "$(accepted_since "$mark")"
check_eq "disk full: nothing is written" "$reads_before" "$(it_sql "SELECT count(*) FROM register_reads")"
check_eq "disk full: shadowd keeps running" 1 "$(kill -0 "$IT_SHADOWD_PID" 2> /dev/null && echo 1)"
rm -f "$FULL_FLAG"
check_log_more "space returns: shadowd resumes by itself" 'WARN store: writable again' "$resumes"
mark=$(it_mark)
sleep 2
check_eq "space returns: reports are answered again" 1 "$([ "$(accepted_since "$mark")" -gt 0 ] && echo 1)"
snapshot_versions
check_integrity "disk full"

# A stop while the disk is full: returning would acknowledge the held message, so shadowd exits 1
# without acknowledging it; the next start handles it.
holds=$(log_count 'ERROR store: cannot write: holding')
touch "$FULL_FLAG"
wait_log_more 'ERROR store: cannot write: holding' "$holds" > /dev/null
kill -TERM "$IT_SHADOWD_PID"
rc=0
wait "$IT_SHADOWD_PID" || rc=$?
IT_SHADOWD_PID=
check_eq "SIGTERM while the disk is full: shadowd exits 1" 1 "$rc"
check_eq "SIGTERM while the disk is full: it says the message stays unacknowledged" 1 \
    "$(log_count 'stopping while the store cannot write: the message in hand stays unacknowledged')"
rm -f "$FULL_FLAG"
it_start_shadowd
mark=$(it_mark)
sleep 2
check_eq "started again with space: reports are answered again" 1 "$([ "$(accepted_since "$mark")" -gt 0 ] && echo 1)"

# ---- (d) the database held by a long reader, then by a writer ----------------------------------
mark=$(it_mark)
printf 'BEGIN;\nSELECT count(*) > 0 FROM register_reads;\n.shell sleep 6\nSELECT count(*) > 0 FROM register_reads;\nCOMMIT;\n' |
    sqlite3 -batch "$IT_DB" > "$IT_DIR/reader.out" 2>&1
check_eq "long reader: it sees one snapshot throughout" "1 1" "$(tr '\n' ' ' < "$IT_DIR/reader.out" | sed 's/ $//')"
check_eq "long reader: shadowd goes on writing meanwhile" 1 "$([ "$(accepted_since "$mark")" -gt 100 ] && echo 1)"
holds=$(log_count 'ERROR store: cannot write: holding')
resumes=$(log_count 'WARN store: writable again')
printf '.timeout 2000\nBEGIN IMMEDIATE;\n.shell sleep 9\nCOMMIT;\n' | sqlite3 -batch "$IT_DB" > "$IT_DIR/writer.out" 2>&1
check_log_more "locked by a writer beyond the busy timeout: shadowd holds the message" \
    'ERROR store: cannot write: holding' "$holds"
check_log_more "lock released: shadowd resumes by itself" 'WARN store: writable again' "$resumes"
mark=$(it_mark)
sleep 2
check_eq "lock released: reports are answered again" 1 "$([ "$(accepted_since "$mark")" -gt 0 ] && echo 1)"
snapshot_versions
check_integrity "locked database"

# ---- What the simulator was acknowledged, against the history -----------------------------------
wait "$SIM_PID"
check_eq "metersim ran its course" 0 "$?"
summary=$(grep '^metersim: published=' "$IT_DIR/metersim.log")
acked=$(sed -E 's/.*acked=([0-9]+).*/\1/' <<< "$summary")
check_json "the broker acknowledged thousands of messages" "{\"a\":${acked:-0}}" '.a > 3000'
check_eq "the record holds one line per acknowledged message" "${acked:-x}" "$(wc -l < "$IT_DIR/sim.jsonl")"
it_barrier > /dev/null
snapshot_versions

# Balance rows (one per report) and register reads (reports and batches), as CSV for sqlite3.
jq -r 'select(.topic | endswith("/reported")) | .payload as $p | select($p.state.balance != null)
       | [.serial, $p.ts, ($p.state.balance * 100000 | round)] | @csv' "$IT_DIR/sim.jsonl" \
    > "$IT_DIR/expected-balance.csv"
jq -r 'def reads: if (.topic | endswith("/reported")) then [.payload.state + {ts: .payload.ts}]
                  elif (.topic | endswith("/reads")) then .payload.reads else [] end;
       .serial as $s | reads[] | . as $r
       | ["import_a", "import_b", "export_a", "export_b"][] | select($r[.] != null)
       | [$s, (if endswith("_b") then "B" else "A" end), (if startswith("import") then "import" else "export" end),
          ($r.ts | fromdateiso8601), ($r[.] * 1000 | round)] | @csv' "$IT_DIR/sim.jsonl" \
    > "$IT_DIR/expected-reads.csv"
jq -r 'select(.topic | endswith("/reported")) | [.serial, (.payload.ts | fromdateiso8601), .payload.state.import_a // ""] | @csv' \
    "$IT_DIR/sim.jsonl" > "$IT_DIR/expected-latest.csv"
sqlite3 -batch "$IT_DIR/expected.db" << SQL
CREATE TABLE balance (serial TEXT, ts TEXT, balance_e5 INTEGER);
CREATE TABLE reads (serial TEXT, element TEXT, flow TEXT, ts INTEGER, wh INTEGER);
CREATE TABLE reports (serial TEXT, ts INTEGER, import_a REAL);
.import --csv $IT_DIR/expected-balance.csv balance
.import --csv $IT_DIR/expected-reads.csv reads
.import --csv $IT_DIR/expected-latest.csv reports
SQL
stored() { sqlite3 -batch -noheader "$IT_DB" "ATTACH '$IT_DIR/expected.db' AS e; $1"; }

check_json "the record has reports and reads to check" \
    "$(stored "SELECT json_object('b', (SELECT count(*) FROM e.balance), 'r', (SELECT count(*) FROM e.reads))")" \
    '.b > 2000 and .r > 4000'
check_eq "every acknowledged report's balance is stored, with its value" 0 \
    "$(stored "SELECT count(*) FROM (SELECT DISTINCT * FROM e.balance) x
               JOIN meter_registry m ON m.serial = x.serial
               LEFT JOIN meter_prepay_balance_data b ON b.meter_id = m.id AND b.timestamp = x.ts
               WHERE b.balance_e5 IS NOT x.balance_e5")"
check_eq "the balance history holds nothing else (each report exactly once)" \
    "$(stored "SELECT count(*) FROM (SELECT DISTINCT serial, ts FROM e.balance)")" \
    "$(stored "SELECT count(*) FROM meter_prepay_balance_data")"
# import_a/export_a feed element A, or SINGLE on a one-element meter; direction_reversed swaps.
READ_KEYS="SELECT DISTINCT r.register_id, CASE WHEN r.direction_reversed
                  THEN (CASE x.flow WHEN 'import' THEN 'export' ELSE 'import' END) ELSE x.flow END AS flow,
                  x.ts, x.wh
           FROM e.reads x JOIN meter_registry m ON m.serial = x.serial
           JOIN meter_registers r ON r.meter_id = m.id
            AND (r.element = x.element OR (x.element = 'A' AND r.element = 'SINGLE'))"
check_eq "every acknowledged register read is stored, with its value" 0 \
    "$(stored "SELECT count(*) FROM ($READ_KEYS) k LEFT JOIN register_reads s
               ON s.register_id = k.register_id AND s.flow = k.flow AND s.ts = k.ts
               WHERE s.wh IS NOT k.wh")"
check_eq "the register history holds nothing else (each read exactly once)" \
    "$(stored "SELECT count(*) FROM ($READ_KEYS)")" \
    "$(stored "SELECT count(*) FROM register_reads WHERE estimated = 0")"
check_eq "no shadow's version ever went down" 0 \
    "$(for i in $(seq 2 "$VERSIONS"); do
           join <(sort "$IT_DIR/versions.$((i - 1))") <(sort "$IT_DIR/versions.$i") -t '|' |
               awk -F'|' '$3 < $2'
       done | wc -l)"
check_eq "every shadow ends at its latest acknowledged report" 0 \
    "$(stored "SELECT count(*) FROM (SELECT serial, import_a FROM e.reports x
                                     WHERE ts = (SELECT max(ts) FROM e.reports y WHERE y.serial = x.serial)
                                       AND import_a != '') l
               LEFT JOIN shadow_documents d ON d.serial = l.serial
               WHERE abs(json_extract(d.document, '\$.state.reported.import_a') - l.import_a) > 1e-9
                  OR d.serial IS NULL")"
check_integrity "the end"
check_eq "shadowd logged no internal failure" 0 "$(grep -c 'code=500' "$IT_DIR/shadowd.log")"
stats=$(mosquitto_sub -p "$IT_PORT" -t shadowd/stats -C 1 -W 15)
check_json "shadowd/stats counts the messages that waited for the store" "$stats" '.store_waits >= 1'
it_finish
echo "faults: $IT_PASS passed, $IT_FAIL failed"
