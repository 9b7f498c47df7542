#!/usr/bin/env bash
# metersim: the same seed prints the same messages; a simulated day of the example fleet through a
# real broker fills every shadow, register history, HH interval and circuit aggregate, with daily
# totals equal to the sum of their half-hours; meters answer, store and activate tariff commands.
. "$(dirname "$0")/lib.sh"
it_setup
SIM="$IT_ROOT/$BUILD/metersim"
TOPO="$IT_ROOT/deploy/example-topology.json"
START=$(date -u -d '3 days ago' +%Y-%m-%dT00:00:00Z)
DAY1=${START%%T*}

# ---- Determinism, without a broker ---------------------------------------------------------------
dry() { "$SIM" --topology "$TOPO" --dry-run --start "$START" --duration 93600 --reads-batch 30 \
    --malformed 5 --duplicate 5 --offline-pct 10 --missed-pct 5 "$@" 2> /dev/null; }
dry --seed 42 > "$IT_DIR/dry-a.txt"
check_eq "a dry run exits 0" 0 "$?"
dry --seed 42 > "$IT_DIR/dry-b.txt"
dry --seed 43 > "$IT_DIR/dry-c.txt"
lines=$(wc -l < "$IT_DIR/dry-a.txt")
check_json "a dry run prints a day of messages" "{\"n\":$lines}" '.n > 200'
if cmp -s "$IT_DIR/dry-a.txt" "$IT_DIR/dry-b.txt"; then it_ok "same seed, same output"; else
    it_not_ok "same seed, same output" "$(diff "$IT_DIR/dry-a.txt" "$IT_DIR/dry-b.txt" | head -3)"; fi
if cmp -s "$IT_DIR/dry-a.txt" "$IT_DIR/dry-c.txt"; then it_not_ok "another seed, other readings"; else
    it_ok "another seed, other readings"; fi
check_eq "every dry-run line is a meter topic and a payload" 0 \
    "$(grep -cvE '^meters/[A-Za-z0-9_-]+/(reported|reads) .' "$IT_DIR/dry-a.txt")"
check_eq "reads batches are uploaded" 1 "$(grep -q '/reads {"reads":\[' "$IT_DIR/dry-a.txt" && echo 1)"
"$SIM" --meters 20 --write-topology "$IT_DIR/synthetic.json"
check_json "--write-topology writes 20 meters and their circuits" "$(cat "$IT_DIR/synthetic.json")" \
    '(.meters | length) == 20 and ([.circuits[].type] | sort) == ["heat","power","solar"]'
"$SIM" --bogus > /dev/null 2>&1
check_eq "an unknown option is bad usage" 2 "$?"

# ---- A simulated day and a bit through shadowd ---------------------------------------------------
"$IT_ROOT/$BUILD/shadowctl" --db "$IT_DB" import "$TOPO" > /dev/null
it_start_shadowd
day_mark=$(it_mark)
"$SIM" --broker "tcp://127.0.0.1:$IT_PORT" --topology "$TOPO" --start "$START" --duration 100800 \
    --speed 40000 --seed 42 --reads-batch 30 --offline-pct 0 --missed-pct 0 \
    --log "$IT_DIR/sim.jsonl" 2> "$IT_DIR/metersim.log"
check_eq "metersim exits 0 at the end of its duration" 0 "$?"
summary=$(grep '^metersim: published=' "$IT_DIR/metersim.log")
published=$(sed -E 's/.*published=([0-9]+).*/\1/' <<< "$summary")
acked=$(sed -E 's/.*acked=([0-9]+).*/\1/' <<< "$summary")
check_json "the broker confirmed every publication" "{\"p\":${published:-0},\"a\":${acked:-0}}" \
    '.p > 400 and .p == .a'
check_eq "the log holds one line per confirmed message" "${acked:-x}" "$(wc -l < "$IT_DIR/sim.jsonl")"
check_eq "a mediator uploaded a profile log" 1 "$(grep -q '"topic":"meters/[A-Z0-9]*/reads"' "$IT_DIR/sim.jsonl" && echo 1)"
it_barrier > /dev/null
check_eq "shadowd accepted every report and batch" "0 $acked" \
    "$(tail -n +$((day_mark + 1)) "$IT_DIR/sub.log" |
        awk '$1 ~ /^meters\/[A-Z0-9]+\/(reported|reads)\/rejected$/ { r++ }
             $1 ~ /^meters\/[A-Z0-9]+\/(reported|reads)\/accepted$/ { a++ } END { print r + 0, a + 0 }')"

check_eq "every meter has a shadow" 0 \
    "$(it_sql "SELECT count(*) FROM meter_registry m WHERE NOT EXISTS
               (SELECT 1 FROM shadow_documents s WHERE s.serial = m.serial AND s.deleted = 0)")"
check_eq "every register has cumulative reads" 0 \
    "$(it_sql "SELECT count(*) FROM meter_registers r WHERE NOT EXISTS
               (SELECT 1 FROM register_import i WHERE i.register_id = r.register_id)")"
check_eq "every register has HH intervals on the simulated day" 0 \
    "$(it_sql "SELECT count(*) FROM meter_registers r WHERE (SELECT count(*) FROM register_interval_hh h
               WHERE h.register_id = r.register_id AND h.timestamp LIKE '$DAY1%') < 47")"
check_eq "every circuit has HH totals and a daily total for the simulated day" 0 \
    "$(it_sql "SELECT count(*) FROM circuits c WHERE
               NOT EXISTS (SELECT 1 FROM circuit_interval_hh h WHERE h.circuit_id = c.id AND h.timestamp LIKE '$DAY1%')
               OR NOT EXISTS (SELECT 1 FROM circuit_interval_daily d WHERE d.circuit_id = c.id AND d.day = '$DAY1')")"
daily_vs_hh=$(TZ=Europe/London sqlite3 -batch -noheader "$IT_DB" "
    SELECT count(*), coalesce(sum(d.import_mwh = h.import_mwh AND d.export_mwh = h.export_mwh), 0)
    FROM circuit_daily d JOIN (SELECT circuit_id, date(start, 'unixepoch', 'localtime') AS day,
                                      sum(import_mwh) AS import_mwh, sum(export_mwh) AS export_mwh
                               FROM circuit_hh GROUP BY 1, 2) h
      ON h.circuit_id = d.circuit_id AND h.day = d.day")
check_json "each daily circuit total is the sum of its HH totals" "{\"v\":\"$daily_vs_hh\"}" \
    '(.v | split("|") | map(tonumber)) as [$n, $eq] | $n >= 6 and $n == $eq'
check_eq "the daily view shows the same totals as its half-hours" "6|0" \
    "$(TZ=Europe/London sqlite3 -batch -noheader "$IT_DB" "
       SELECT count(*), coalesce(sum(abs(d.total_import_kwh - h.import_kwh) > 1e-9
                                     OR abs(d.total_export_kwh - h.export_kwh) > 1e-9), 0)
       FROM circuit_interval_daily d
       JOIN (SELECT circuit_id, date(timestamp, 'localtime') AS day, sum(import_kwh) AS import_kwh,
                    sum(export_kwh) AS export_kwh FROM circuit_interval_hh GROUP BY 1, 2) h
         ON h.circuit_id = d.circuit_id AND h.day = d.day
       WHERE d.day = '$DAY1'")"
SOLAR=c4a5b6d7-e8f9-4a0b-8c1d-2e3f4a5b6c33
check_json "the solar circuit exports by day and not at night" \
    "$(it_sql "SELECT json_object('night', coalesce(sum(CASE WHEN time(timestamp) < '05:00:00' OR time(timestamp) >= '18:00:00' THEN export_kwh END), 0),
                                 'day', coalesce(sum(CASE WHEN time(timestamp) BETWEEN '10:00:00' AND '14:00:00' THEN export_kwh END), 0))
               FROM circuit_interval_hh WHERE circuit_id = '$SOLAR' AND timestamp LIKE '$DAY1%'")" \
    '.night == 0 and .day > 0'
# A live meter's HH energy adds up to the difference of its first and last cumulative reads.
reg=$(it_sql "SELECT register_id FROM meter_registers r JOIN meter_registry m ON m.id = r.meter_id
              WHERE m.serial = 'EML2137580828'")
check_eq "HH energy of a register equals its last read minus its first" \
    "$(it_sql "SELECT max(wh) - min(wh) FROM register_reads WHERE register_id = '$reg' AND flow = 'import'")" \
    "$(it_sql "SELECT sum(mwh) / 1000 FROM register_periods WHERE register_id = '$reg' AND flow = 'import'")"
check_eq "balances and signal history are recorded" 1 \
    "$(it_sql "SELECT (SELECT count(*) FROM meter_prepay_balance) > 100 AND (SELECT count(*) FROM meter_csq) > 100")"

# next_where MARK TOPIC JQ: the first payload on TOPIC after MARK for which JQ holds, waiting.
next_where() {
    local payload
    for _ in $(seq 1 $((IT_TIMEOUT * 10))); do
        payload=$(tail -n +"$(($1 + 1))" "$IT_DIR/sub.log" | awk -v t="$2" 'index($0, t " ") == 1 { print substr($0, length(t) + 2) }' |
            jq -c "select($3)" 2> /dev/null | head -1)
        [ -n "$payload" ] && { printf '%s' "$payload"; return 0; }
        sleep 0.1
    done
    return 1
}

# ---- Commands: stored, confirmed, activated; a rejecting meter answers error ---------------------
NOW=$(date -u +%s)
"$SIM" --broker "tcp://127.0.0.1:$IT_PORT" --topology "$TOPO" --start "$(date -u -d "@$((NOW - 60))" +%Y-%m-%dT%H:%M:%SZ)" \
    --speed 60 --seed 5 --offline-pct 0 --missed-pct 0 --reject-commands EML2226413302 \
    2> "$IT_DIR/metersim-live.log" &
SIM_PID=$!
for _ in $(seq 1 50); do grep -q 'mqtt: connected' "$IT_DIR/metersim-live.log" && break; sleep 0.1; done
sleep 0.5
ACT=$(date -u -d "@$((NOW + 4))" +%Y-%m-%dT%H:%M:%S)
TARIFF="{\"standing_charge\":0.6,\"unit_rate_element_a\":0.3,\"unit_rate_element_b\":0.2,\"prepayment_ecredit_availability\":5,\"prepayment_debt_recovery_rate\":0.1,\"prepayment_emergency_credit\":15,\"activation_datetime\":\"$ACT\"}"
M=EML2137580828 # daylight_savings_correction_enabled false: activation_datetime is UTC
mark=$(it_mark)
it_pub "meters/$M/commands" "{\"id\":\"cmd-1\",\"command\":\"tariffs_future_write\",\"version\":1,\"attempt\":1,\"args\":$TARIFF}"
res=$(it_next "$mark" "meters/$M/commands/result")
check_json "a meter confirms a tariff write" "$res" '.id == "cmd-1" and .status == "ok"'
# A live report already on its way may come first: take the first one carrying the tariff.
rep=$(next_where "$mark" "meters/$M/reported" '.state.tariffs_future != null')
check_json "and reports the future tariff at once" "$rep" \
    ".state.tariffs_future.standing_charge == 0.6 and .state.tariffs_future.activation_datetime == \"$ACT\""
rep=$(IT_TIMEOUT=20 next_where "$mark" "meters/$M/reported" '.state.tariffs_active.standing_charge == 0.6')
check_json "at the activation instant it reports the tariff as active" "$rep" \
    ".state.tariffs_future == null and .ts >= \"${ACT}Z\""
mark=$(it_mark)
it_pub "meters/EML2226413302/commands" "{\"id\":\"cmd-2\",\"command\":\"tariffs_future_write\",\"version\":1,\"attempt\":1,\"args\":$TARIFF}"
res=$(it_next "$mark" "meters/EML2226413302/commands/result")
check_json "a rejecting meter answers error" "$res" '.id == "cmd-2" and .status == "error" and (.message | length) > 0'
mark=$(it_mark)
it_pub "meters/$M/commands" "{\"id\":\"cmd-3\",\"command\":\"tariffs_future_write\",\"args\":{\"standing_charge\":2}}"
res=$(it_next "$mark" "meters/$M/commands/result")
check_json "a malformed tariff is answered with an error" "$res" '.id == "cmd-3" and .status == "error"'
# The whole workflow through shadowd: desired → command → confirmed → activated.
W=EML2226413303 # no daylight saving correction
ACT=$(date -u -d "@$(($(date -u +%s) + 5))" +%Y-%m-%dT%H:%M:%S)
mark=$(it_mark)
it_pub "meters/$W/desired" "{\"state\":{\"tariffs_future\":${TARIFF%\"activation_datetime\"*}\"activation_datetime\":\"$ACT\"}}}"
ev=$(next_where "$mark" "meters/$W/events" '.type == "command_confirmed"')
check_json "shadowd's tariff command is confirmed by the meter" "$ev" '.attempts == 1'
ev=$(IT_TIMEOUT=20 next_where "$mark" "meters/$W/events" '.type == "tariff_activated"')
check_json "and the meter's activation completes it" "$ev" '.tariff.standing_charge == 0.6'
check_eq "the shadow shows the new active tariff and no future one" "confirmed|0.6|1" \
    "$(it_sql "SELECT c.status, json_extract(s.tariffs_active, '\$.standing_charge'), s.tariffs_future IS NULL
               FROM meter_commands c JOIN meter_registry m ON m.id = c.meter_id
               JOIN meter_shadows s ON s.serial = m.serial WHERE m.serial = '$W'")"
kill -TERM "$SIM_PID"
wait "$SIM_PID"
check_eq "metersim exits 0 on SIGTERM" 0 "$?"
check_eq "and prints its summary" 1 "$(grep -c '^metersim: published=.* commands=4 ' "$IT_DIR/metersim-live.log")"
it_finish
