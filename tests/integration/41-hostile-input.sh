#!/usr/bin/env bash
# Hostile input (SPEC §4.7, §4.8, §11): each message gets the SPEC's error on its rejected topic
# and changes nothing; shadowd stays up and answers the next good message.
. "$(dirname "$0")/lib.sh"
it_setup
"$IT_ROOT/$BUILD/shadowctl" --db "$IT_DB" import "$IT_ROOT/deploy/example-topology.json" > /dev/null
it_start_shadowd
M=EML2137580826
acc=$(it_request meters/$M/reported '{"state":{"import_a":10,"balance":20}}' meters/$M/reported/accepted)
check_json "a good report first" "$acc" '.version == 1'

snapshot() {
    it_sql "SELECT (SELECT group_concat(serial || version || document) FROM shadow_documents) ||
        (SELECT count(*) FROM register_reads) || (SELECT count(*) FROM meter_prepay_balance_data) ||
        (SELECT count(*) FROM meter_csq) || (SELECT count(*) FROM meter_voltage) ||
        (SELECT count(*) FROM meter_health_history) || (SELECT count(*) FROM meter_event_log) ||
        (SELECT count(*) FROM meter_tariff_history) || (SELECT count(*) FROM meter_registry)" | md5sum
}
before=$(snapshot)

# hostile NAME TOPIC-SUFFIX CODE MESSAGE-PREFIX: the payload is in $IT_DIR/p
hostile() {
    local name=$1 topic=$2 code=$3 prefix=$4 m rej
    m=$(it_mark)
    mosquitto_pub -p "$IT_PORT" -q 1 -t "$topic" -f "$IT_DIR/p"
    rej=$(it_next "$m" "$topic/rejected")
    check_json "$name" "$rej" ".code == $code and (.message | startswith(\"$prefix\"))"
}
payload() { printf '%s' "$1" > "$IT_DIR/p"; }
R=meters/$M/reported
TAR='"standing_charge":0.5,"unit_rate_element_a":0.2,"unit_rate_element_b":0.1,"prepayment_ecredit_availability":5,"prepayment_debt_recovery_rate":0.5,"prepayment_emergency_credit":10'

printf '{"state":{"a":"\xff"}}' > "$IT_DIR/p"; hostile "invalid UTF-8 byte" $R 415 "Unsupported encoding"
printf '{"state":{"a":"\xc0\xaf"}}' > "$IT_DIR/p"; hostile "overlong UTF-8" $R 415 "Unsupported encoding"
printf '{"state":{"a":"\xed\xa0\x80"}}' > "$IT_DIR/p"; hostile "UTF-8 surrogate" $R 415 "Unsupported encoding"
printf '{"state":{"a":"\xe2\x82"}}' > "$IT_DIR/p"; hostile "truncated UTF-8" $R 415 "Unsupported encoding"
payload '{"state":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":1}}}}}}}}}}'; hostile "nesting deeper than max_depth" $R 400 "JSON contains too many levels of nesting; maximum is 8"
{ printf '{"state":'; for _ in $(seq 3000); do printf '['; done; for _ in $(seq 3000); do printf ']'; done; printf '}'; } > "$IT_DIR/p"
hostile "nesting beyond any parser limit" $R 400 "Invalid JSON"
payload '{"state":{"import_a":1e999}}'; hostile "number too large for a double" $R 400 "Invalid JSON"
payload '{"state":{"import_a":NaN}}'; hostile "NaN literal" $R 400 "Invalid JSON"
payload '{"state":{"import_a":Infinity}}'; hostile "Infinity literal" $R 400 "Invalid JSON"
payload '{"state":{"import_a":"NaN"}}'; hostile "NaN-like string for a number" $R 400 "Invalid field: import_a"
payload '{"state":{"balance":"1e5"}}'; hostile "numeric string for money" $R 400 "Invalid field: balance"
head -c 1048577 /dev/zero | tr '\0' ' ' > "$IT_DIR/p"; hostile "payload over 1 MiB" $R 413 "The payload exceeds the maximum size allowed"
payload '{"state":{"a":1},"state":{"b":2}}'; hostile "duplicate keys" $R 400 "Invalid JSON"
printf '{"state":{"a":"x\\u0000y"}}' > "$IT_DIR/p"; hostile "escaped NUL in a string" $R 400 "Invalid JSON"
printf '{"state":{"a":"x\ty"}}' > "$IT_DIR/p"; hostile "raw control character in a string" $R 400 "Invalid JSON"
payload ''; hostile "empty report" $R 400 "Invalid JSON"
payload '[]'; hostile "array payload" $R 400 "Payload must be a JSON object"
payload '{"state":{},"clientToken":"'"$(printf 't%.0s' $(seq 65))"'"}'; hostile "65-byte clientToken" $R 400 "Invalid clientToken"
payload '{"state":{"delta":{}}}'; hostile "delta node" $R 400 "State contains an invalid node: 'delta'"
payload '{"state":{"a":[1,null]}}'; hostile "null in an array" $R 400 "Arrays can't contain null values"
payload '{"state":{},"version":-1}'; hostile "negative version" $R 400 "Invalid version"
payload '{"state":{},"ts":"2026-13-01T00:00:00Z"}'; hostile "impossible date" $R 400 "Invalid field: ts"
payload '{"state":{},"ts":"1999-12-31T23:59:59Z"}'; hostile "report before 2000" $R 400 "Invalid field: ts"
payload '{"state":{},"ts":4102444800}'; hostile "report far in the future" $R 400 "Invalid field: ts"
for f in 'import_a:"1"' 'import_b:true' 'export_a:[1]' 'export_b:{"a":1}' 'import_a:-0.001' 'balance:[]' \
    'emergency_credit:"5"' 'balance:10000.01' 'csq:"5"' 'csq:1.5' 'csq:-1' 'voltage:"230"' 'voltage_l1:-1' \
    'voltage_l2:500.5' 'voltage_l3:{}' 'clock_time_diff_seconds:"3"' 'health:5' 'health:"fine"' \
    'health_details:5' 'tariffs_active:"x"' 'tariffs_future:1' 'events:{}' 'events:["x"]' 'hardware:1' \
    'firmware_version:[]'; do
    name=${f%%:*}
    payload "{\"state\":{\"$name\":${f#*:}}}"
    hostile "wrong type or range for $name (${f#*:})" $R 400 "Invalid field: $name"
done
payload "{\"state\":{\"tariffs_future\":{$TAR,\"activation_datetime\":\"2027-01-01T00:00:00Z\"}}}"
hostile "activation_datetime with a zone" meters/$M/desired 400 "Invalid field: tariffs_future.activation_datetime"
payload "{\"state\":{\"tariffs_future\":{${TAR/0.2/1.5},\"activation_datetime\":\"2027-01-01T00:00:00\"}}}"
hostile "unit rate above 1.0" meters/$M/desired 400 "Invalid field: tariffs_future.unit_rate_element_a"
payload "{\"state\":{\"tariffs_future\":{${TAR/0.2/0.123456},\"activation_datetime\":\"2027-01-01T00:00:00\"}}}"
hostile "unit rate with 6 decimals" meters/$M/desired 400 "Invalid field: tariffs_future.unit_rate_element_a"
payload '{"reads":{}}'; hostile "reads not an array" meters/$M/reads 400 "Invalid field: reads"
payload '{"reads":[{"ts":"3000-01-01T00:00:00Z","import_a":1}]}'; hostile "read far in the future" meters/$M/reads 400 "Invalid field: reads[0].ts"
payload '{"reads":[{"ts":"1990-01-01T00:00:00Z","import_a":1}]}'; hostile "read before 2000" meters/$M/reads 400 "Invalid field: reads[0].ts"
payload '{"reads":[{"ts":"2026-01-01T00:00:00Z","import_a":-5}]}'; hostile "negative read" meters/$M/reads 400 "Invalid field: reads[0].import_a"
payload '{"reads":[7]}'; hostile "read not an object" meters/$M/reads 400 "Invalid field: reads[0]"
payload '{"state":{"import_a":1}}'; hostile "unknown meter" meters/NOTAMETER/reported 404 "Meter not registered: NOTAMETER"
payload '{"state":{}}'; hostile "serial '..'" meters/../reported 400 "Invalid meter serial"
hostile "empty serial" meters//reported 400 "Invalid meter serial"
hostile "65-byte serial" "meters/$(printf 'S%.0s' $(seq 65))/reported" 400 "Invalid meter serial"
hostile "serial with a space" "meters/A B/reported" 400 "Invalid meter serial"
m=$(it_mark)
mosquitto_pub -p "$IT_PORT" -q 1 -t "meters/$M/extra/reported" -f "$IT_DIR/p"
check_eq "mosquitto clients refuse wildcard serials" 1 \
    "$(mosquitto_pub -p "$IT_PORT" -q 1 -t 'meters/+/reported' -m '{}' 2> /dev/null; echo $?)"
it_barrier > /dev/null
check_eq "a serial containing '/' is another topic: ignored, not answered" 0 "$(it_count "$m" "meters/$M/extra/reported/rejected")"

check_eq "no hostile message changed anything" "$before" "$(snapshot)"
acc=$(it_request meters/$M/reported '{"state":{"import_a":11}}' meters/$M/reported/accepted)
check_json "shadowd still answers good messages" "$acc" '.version == 2'
check_eq "shadowd logged no internal failure" 0 "$(grep -c 'code=500' "$IT_DIR/shadowd.log")"
it_finish
