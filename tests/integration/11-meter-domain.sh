#!/usr/bin/env bash
# The meter twin: registry gate, known fields validated and projected into history, idempotent
# replays, reads batches, conflicts, and health (offline/online, low balance, clock drift).
. "$(dirname "$0")/lib.sh"
it_setup
cat > "$IT_DIR/shadowd.conf" << 'CONF'
offline_after_s = 3
low_balance_gbp = 5.00
clock_drift_alert_s = 60
CONF
"$IT_ROOT/$BUILD/shadowctl" --db "$IT_DB" import "$IT_ROOT/deploy/example-topology.json" > /dev/null
it_start_shadowd -c "$IT_DIR/shadowd.conf"

M1=EML2137580826   # A + B (B rolls over at 100000 kWh), active
SOLAR=EML2137580827 # SINGLE, direction reversed
PASSIVE=EML2137580830
meter_id() { it_sql "SELECT id FROM meter_registry WHERE serial = '$1'"; }
reg_id() { it_sql "SELECT register_id FROM meter_registers r JOIN meter_registry m ON m.id = r.meter_id WHERE m.serial = '$1' AND element = '$2'"; }

rej=$(it_request meters/NOTREGISTERED/reported '{"state":{"balance":1}}' meters/NOTREGISTERED/reported/rejected)
check_json "unregistered meter is 404" "$rej" '.code == 404 and .message == "Meter not registered: NOTREGISTERED"'
rej=$(it_request meters/NOTREGISTERED/get '' meters/NOTREGISTERED/get/rejected)
check_json "any topic of an unregistered meter is 404" "$rej" '.code == 404'

FULL='{"state":{"import_a":1000.5,"export_a":2.25,"import_b":99999.9,"balance":12.34567,"emergency_credit":5,"csq":17,"voltage":239.5,"voltage_l1":240,"voltage_l2":241,"voltage_l3":239,"clock_time_diff_seconds":3,"health":"healthy","health_details":"ok","events":[{"ts":"2026-11-28T07:00:00Z","code":"TAMPER","text":"cover opened"}],"firmware_version":"1.2","hardware":"EMP1AX","my_custom":{"x":1}},"ts":"2026-11-28T08:00:00Z","clientToken":"r1"}'
acc=$(it_request meters/$M1/reported "$FULL" meters/$M1/reported/accepted)
check_json "full report accepted" "$acc" '.version == 1 and .clientToken == "r1"'
id1=$(meter_id $M1)
check_eq "import register read stored in Wh as kWh" "1000.5|" \
    "$(it_sql "SELECT import_cumulative, quote(import_interval) FROM register_import WHERE register_id = '$(reg_id $M1 A)'" | sed 's/NULL//')"
check_eq "export read goes to register_export" "2.25" \
    "$(it_sql "SELECT export_cumulative FROM register_export WHERE register_id = '$(reg_id $M1 A)'")"
check_eq "balance row in pounds, full precision" "12.34567|5.0" \
    "$(it_sql "SELECT balance, emergency_credit FROM meter_prepay_balance WHERE meter_id = '$id1'")"
check_eq "csq row" "17" "$(it_sql "SELECT csq FROM meter_csq WHERE meter_id = '$id1'")"
check_eq "voltage row" "239.5" "$(it_sql "SELECT voltage FROM meter_voltage WHERE meter_id = '$id1'")"
check_eq "3-phase voltage row" "240.0|241.0|239.0" \
    "$(it_sql "SELECT voltage_l1, voltage_l2, voltage_l3 FROM meter_3p_voltage WHERE meter_id = '$id1'")"
check_eq "first health is recorded with its reason" "healthy|ok|2026-11-28T08:00:00Z" \
    "$(it_sql "SELECT health, reason, timestamp FROM meter_health_history WHERE meter_id = '$id1'")"
check_eq "meter's own event logged" "TAMPER|cover opened|meter" \
    "$(it_sql "SELECT event_type, details, source FROM meter_event_log WHERE meter_id = '$id1'")"
check_eq "meter_shadows shows the reported fields" "12.34567|17|healthy|1000.5|1" \
    "$(it_sql "SELECT balance, csq, health, import_a, version FROM meter_shadows WHERE serial = '$M1'")"
check_eq "unknown fields are kept in the shadow" '{"x":1}' \
    "$(it_sql "SELECT json_extract(document, '\$.state.reported.my_custom') FROM shadow_documents WHERE serial = '$M1'")"

count_history() {
    it_sql "SELECT (SELECT count(*) FROM register_reads) || ',' || (SELECT count(*) FROM meter_prepay_balance_data) || ',' ||
            (SELECT count(*) FROM meter_csq) || ',' || (SELECT count(*) FROM meter_voltage) || ',' ||
            (SELECT count(*) FROM meter_3p_voltage) || ',' || (SELECT count(*) FROM meter_health_history) || ',' ||
            (SELECT count(*) FROM meter_event_log)"
}
before=$(count_history)
it_request meters/$M1/reported "$FULL" meters/$M1/reported/accepted > /dev/null
check_eq "a redelivered report adds no history row" "$before" "$(count_history)"

for bad in 'import_a":-1|Invalid field: import_a' 'balance":"12"|Invalid field: balance' \
    'csq":32|Invalid field: csq' 'voltage":501|Invalid field: voltage' \
    'health":"ok"|Invalid field: health' 'clock_time_diff_seconds":1.5|Invalid field: clock_time_diff_seconds' \
    'events":[{"code":"X"}]|Invalid field: events[0].ts' \
    'tariffs_active":{"standing_charge":2}|Invalid field: tariffs_active'; do
    rej=$(it_request meters/$M1/reported "{\"state\":{\"hardware\":\"HW\",\"export_b\":5,\"${bad%%|*}}}" meters/$M1/reported/rejected)
    check_json "wrong field rejects the whole report: ${bad#*|}" "$rej" ".code == 400 and (.message | startswith(\"${bad#*|}\"))"
done
check_eq "rejected reports wrote nothing" "$before" "$(count_history)"
check_eq "rejected reports left the shadow alone" "1000.5" \
    "$(it_sql "SELECT import_a FROM meter_shadows WHERE serial = '$M1'")"

rej=$(it_request meters/$SOLAR/reported '{"state":{"import_b":5}}' meters/$SOLAR/reported/rejected)
check_json "a field for a register the meter lacks is 400" "$rej" \
    '.code == 400 and .message == "Invalid field: import_b (meter has no register B)"'

it_request meters/$SOLAR/reported '{"state":{"import_a":10,"export_a":50},"ts":"2026-11-28T08:00:00Z"}' meters/$SOLAR/reported/accepted > /dev/null
sreg=$(reg_id $SOLAR SINGLE)
check_eq "direction_reversed swaps import and export" "10.0|50.0" \
    "$(it_sql "SELECT (SELECT export_cumulative FROM register_export WHERE register_id = '$sreg'), (SELECT import_cumulative FROM register_import WHERE register_id = '$sreg')")"

# A reads batch: a profile log of four half-hours, one missing register value, then replayed.
BATCH='{"reads":[{"ts":"2026-11-28T08:30:00Z","import_a":1000.75},{"ts":"2026-11-28T09:00:00Z","import_a":1001.0,"import_b":null},{"ts":"2026-11-28T09:30:00Z","import_a":1001.5,"import_b":99999.95},{"ts":1795860000,"import_a":1002.0}],"clientToken":"b1"}'
acc=$(it_request meters/$M1/reads "$BATCH" meters/$M1/reads/accepted)
check_json "reads batch accepted with counts" "$acc" '.accepted == 5 and .duplicates == 0 and .clientToken == "b1"'
check_eq "interval between reads in kWh" "0.25" \
    "$(it_sql "SELECT import_interval FROM register_import WHERE register_id = '$(reg_id $M1 A)' AND timestamp = '2026-11-28T08:30:00Z'")"
acc=$(it_request meters/$M1/reads "$BATCH" meters/$M1/reads/accepted)
check_json "replayed batch: everything is a duplicate" "$acc" '.accepted == 0 and .duplicates == 5'
m=$(it_mark)
acc=$(it_request meters/$M1/reads '{"reads":[{"ts":"2026-11-28T09:00:00Z","import_a":1001.1}]}' meters/$M1/reads/accepted)
check_json "conflicting read is not accepted" "$acc" '.accepted == 0 and .duplicates == 0'
ev=$(it_next "$m" meters/$M1/events)
check_json "conflict raises reading_conflict and keeps the first" "$ev" \
    '.type == "reading_conflict" and .kept_kwh == 1001 and .received_kwh == 1001.1'
check_eq "first value kept" "1001.0" \
    "$(it_sql "SELECT import_cumulative FROM register_import WHERE register_id = '$(reg_id $M1 A)' AND timestamp = '2026-11-28T09:00:00Z'")"
check_eq "service events are logged too" 1 \
    "$(it_sql "SELECT count(*) FROM meter_event_log WHERE meter_id = '$id1' AND event_type = 'reading_conflict' AND source = 'service'")"
rej=$(it_request meters/$M1/reads '{"reads":[{"ts":"2026-11-28T10:00:00Z","import_a":1},{"ts":"1999-12-31T00:00:00Z","import_a":2}]}' meters/$M1/reads/rejected)
check_json "a read before 2000 rejects the whole batch" "$rej" '.code == 400 and (.message | startswith("Invalid field: reads[1].ts"))'

# Health: low balance once per crossing, clock drift, health change.
m=$(it_mark)
it_request meters/$M1/reported '{"state":{"balance":4.5}}' meters/$M1/reported/accepted > /dev/null
it_request meters/$M1/reported '{"state":{"balance":4.0}}' meters/$M1/reported/accepted > /dev/null
it_request meters/$M1/reported '{"state":{"balance":6.0,"clock_time_diff_seconds":-75,"health":"unhealthy","health_details":"relay fault"}}' meters/$M1/reported/accepted > /dev/null
it_request meters/$M1/reported '{"state":{"balance":3.0}}' meters/$M1/reported/accepted > /dev/null
it_barrier > /dev/null
check_eq "low_balance raised once per crossing" 2 \
    "$(tail -n +$((m + 1)) "$IT_DIR/sub.log" | grep "^meters/$M1/events " | grep -c '"low_balance"')"
check_eq "clock_drift raised" 1 "$(tail -n +$((m + 1)) "$IT_DIR/sub.log" | grep "^meters/$M1/events " | grep -c '"clock_drift"')"
check_eq "health_changed raised" 1 "$(tail -n +$((m + 1)) "$IT_DIR/sub.log" | grep "^meters/$M1/events " | grep -c '"health_changed"')"
check_eq "meters_low_balance lists it" "$M1|3" "$(it_sql "SELECT serial, balance FROM meters_low_balance")"
check_eq "meters_clock_drift lists it" "$M1|-75" "$(it_sql "SELECT serial, clock_time_diff_seconds FROM meters_clock_drift")"
check_eq "health change recorded with reason" "unhealthy|relay fault" \
    "$(it_sql "SELECT health, reason FROM meter_health_history WHERE meter_id = '$id1' ORDER BY timestamp DESC LIMIT 1")"

# Offline after offline_after_s (3 s here) without a message, online again on the next one.
m=$(it_mark)
ev=$(IT_TIMEOUT=15 it_next "$m" meters/$SOLAR/events)
check_json "a silent meter goes offline" "$ev" '.type == "offline" and (.last_seen | test("Z$"))'
check_eq "meters_offline_recently lists it" "1" "$(it_sql "SELECT count(*) FROM meters_offline_recently WHERE serial = '$SOLAR'")"
m=$(it_mark)
it_pub meters/$SOLAR/reported '{"state":{"csq":20}}'
ev=$(it_next "$m" meters/$SOLAR/events)
check_json "next report brings it back online" "$ev" '.type == "online"'
check_eq "offline view no longer lists it" "0" "$(it_sql "SELECT count(*) FROM meters_offline_recently WHERE serial = '$SOLAR'")"

# Tariffs reported by the meter: history on change, and the tariff view.
TAR='{"standing_charge":0.45,"unit_rate_element_a":0.28,"unit_rate_element_b":0.14,"prepayment_ecredit_availability":5,"prepayment_debt_recovery_rate":0.3,"prepayment_emergency_credit":10}'
it_request meters/$M1/reported "{\"state\":{\"tariffs_active\":$TAR},\"ts\":\"2026-11-28T09:00:00Z\"}" meters/$M1/reported/accepted > /dev/null
it_request meters/$M1/reported "{\"state\":{\"tariffs_active\":$TAR},\"ts\":\"2026-11-28T09:30:00Z\"}" meters/$M1/reported/accepted > /dev/null
check_eq "an unchanged tariff is recorded once" "1|active" \
    "$(it_sql "SELECT count(*), min(kind) FROM meter_tariff_history WHERE meter_id = '$id1'")"
check_eq "meter_shadows_tariffs shows the active tariff" "0.45|0.28|0.14|10" \
    "$(it_sql "SELECT active_standing_charge, active_unit_rate_element_a, active_unit_rate_element_b, active_prepayment_emergency_credit FROM meter_shadows_tariffs WHERE serial = '$M1'")"

# Passive meters: read-only fields cannot be desired.
rej=$(it_request meters/$PASSIVE/desired '{"state":{"balance":10}}' meters/$PASSIVE/desired/rejected)
check_json "desired read-only field on a passive meter is 403" "$rej" '.code == 403 and .message == "Forbidden"'
# An import takes effect in the running shadowd without a restart.
rej=$(it_request meters/NEWMETER1/reported '{"state":{"import_a":1}}' meters/NEWMETER1/reported/rejected)
check_json "a meter is unknown before its import" "$rej" '.code == 404'
cat > "$IT_DIR/more.json" << 'JSON'
{"meters": [{"serial": "NEWMETER1", "esco": "WLCE", "mode": "active", "registers": [{"element": "SINGLE"}]}]}
JSON
"$IT_ROOT/$BUILD/shadowctl" --db "$IT_DB" import "$IT_DIR/more.json" > /dev/null
acc=$(it_request meters/NEWMETER1/reported '{"state":{"import_a":1}}' meters/NEWMETER1/reported/accepted)
check_json "the running shadowd knows it right after the import" "$acc" '.version == 1'
check_eq "integrity check passes" ok "$(it_sql 'PRAGMA integrity_check')"
it_finish
