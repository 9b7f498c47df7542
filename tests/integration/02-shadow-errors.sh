#!/usr/bin/env bash
# Every error of SPEC §4.8 that the shadow topics can give, with its exact message, the request's
# clientToken where one was valid, and nothing stored or half-applied.
. "$(dirname "$0")/lib.sh"
export SHADOWD_UNKNOWN_METERS=provision # these tests are about documents, not the registry
it_setup
cat > "$IT_DIR/shadowd.conf" << 'CONF'
# small limits so the tests can reach them
max_document_bytes = 200
max_depth = 3
max_payload_bytes = 1024
CONF
it_start_shadowd -c "$IT_DIR/shadowd.conf"

# expect_error NAME TOPIC PAYLOAD CODE MESSAGE [TOKEN]
expect_error() {
    local rej filter
    rej=$(it_request "$2" "$3" "$2/rejected")
    filter=".code == $4 and .message == \"$5\" and (.timestamp | type == \"string\")"
    if [ -n "${6:-}" ]; then filter="$filter and .clientToken == \"$6\""; else filter="$filter and (has(\"clientToken\") | not)"; fi
    check_json "$1" "$rej" "$filter"
}

acc=$(it_request meters/M1/reported '{"state":{"a":{"b":1}}}' meters/M1/reported/accepted)
check_json "baseline report accepted" "$acc" '.version == 1'

expect_error "invalid JSON" meters/M1/reported '{"state":' 400 "Invalid JSON"
expect_error "trailing garbage is invalid JSON" meters/M1/reported '{"state":{}} x' 400 "Invalid JSON"
expect_error "array payload" meters/M1/reported '[1,2]' 400 "Payload must be a JSON object"
expect_error "string payload" meters/M1/desired '"hello"' 400 "Payload must be a JSON object"
expect_error "token too long is not echoed" meters/M1/reported \
    "{\"state\":{},\"clientToken\":\"$(printf 'x%.0s' $(seq 65))\"}" 400 "Invalid clientToken"
expect_error "token not a string" meters/M1/reported '{"state":{},"clientToken":5}' 400 "Invalid clientToken"
expect_error "missing state keeps the token" meters/M1/reported '{"clientToken":"t2"}' 400 \
    "Missing required node: state" t2
expect_error "state not an object" meters/M1/desired '{"state":[1],"clientToken":"t3"}' 400 \
    "State node must be an object" t3
expect_error "report desired must be null" meters/M1/reported '{"state":{},"desired":{"a":1}}' 400 \
    "Desired node must be null"
expect_error "version not an integer" meters/M1/desired '{"state":{"a":1},"version":"1"}' 400 "Invalid version"
expect_error "version fractional" meters/M1/desired '{"state":{"a":1},"version":1.5}' 400 "Invalid version"
expect_error "delta node" meters/M1/desired '{"state":{"delta":{"a":1}},"clientToken":"t4"}' 400 \
    "State contains an invalid node: 'delta'" t4
expect_error "too deep" meters/M1/reported '{"state":{"a":{"b":{"c":{"d":1}}}}}' 400 \
    "JSON contains too many levels of nesting; maximum is 3"
expect_error "array indices count toward depth" meters/M1/reported '{"state":{"a":{"b":[[1]]}}}' 400 \
    "JSON contains too many levels of nesting; maximum is 3"
expect_error "null inside an array" meters/M1/desired '{"state":{"a":[1,null]}}' 400 \
    "Arrays can't contain null values"
expect_error "bad ts" meters/M1/reported '{"state":{"a":1},"ts":"yesterday"}' 400 \
    "Invalid field: ts (ISO-8601 with zone, or integer or decimal Unix seconds)"
expect_error "document over max_document_bytes" meters/M1/desired \
    "{\"state\":{\"big\":\"$(printf 'y%.0s' $(seq 300))\"},\"clientToken\":\"t5\"}" 413 \
    "The payload exceeds the maximum size allowed" t5
expect_error "version conflict" meters/M1/reported '{"state":{"a":2},"version":7,"clientToken":"t6"}' 409 \
    "Version conflict" t6
expect_error "get of unknown shadow" meters/NOPE/get '{"clientToken":"t7"}' 404 \
    "No shadow exists for meter: NOPE" t7

head -c 2000 /dev/zero | tr '\0' 'z' > "$IT_DIR/big"
m=$(it_mark)
it_pub_file meters/M1/reported "$IT_DIR/big"
rej=$(it_next "$m" meters/M1/reported/rejected)
check_json "payload over max_payload_bytes is 413 before parsing" "$rej" \
    '.code == 413 and .message == "The payload exceeds the maximum size allowed"'

printf '{"state":{"a":"\xff\xfe"}}' > "$IT_DIR/latin1"
m=$(it_mark)
it_pub_file meters/M1/reported "$IT_DIR/latin1"
rej=$(it_next "$m" meters/M1/reported/rejected)
check_json "invalid UTF-8 is 415" "$rej" \
    '.code == 415 and .message == "Unsupported encoding; supported encoding is UTF-8"'

for serial in 'bad.serial' "$(printf 'S%.0s' $(seq 65))" 'sp%20ace'; do
    rej=$(it_request "meters/$serial/reported" '{"state":{}}' "meters/$serial/reported/rejected")
    check_json "invalid serial '${serial:0:12}…' rejected on its topic" "$rej" \
        '.code == 400 and .message == "Invalid meter serial"'
done

it_barrier > /dev/null
get=$(it_request meters/M1/get '' meters/M1/get/accepted)
check_json "no rejected request changed the shadow" "$get" \
    '.version == 1 and .state.reported == {"a":{"b":1}} and (.state | has("desired") | not)'
check_eq "rejected requests created no rows" 1 "$(it_sql 'SELECT count(*) FROM shadow_documents')"
check_eq "rejections are logged" 1 "$(grep -c 'code=409' "$IT_DIR/shadowd.log")"

it_finish
