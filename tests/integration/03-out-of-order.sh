#!/usr/bin/env bash
# Late and out-of-order reports (SPEC §4.6): an older report never moves a leaf backwards, but is
# still accepted and echoed; a newer one does; ties apply.
. "$(dirname "$0")/lib.sh"
export SHADOWD_UNKNOWN_METERS=provision # these tests are about documents, not the registry
it_setup
it_start_shadowd

acc=$(it_request meters/OO1/reported '{"state":{"v":2,"o":{"x":1}},"ts":"2026-01-01T10:00:00Z"}' meters/OO1/reported/accepted)
check_json "first report at 10:00" "$acc" '.version == 1 and .metadata.reported.v.timestamp == "2026-01-01T10:00:00Z"'
acc=$(it_request meters/OO1/reported '{"state":{"v":1,"w":7},"ts":"2026-01-01T09:00:00Z"}' meters/OO1/reported/accepted)
check_json "older report is accepted and echoed as received" "$acc" '.state.reported == {"v":1,"w":7}'
get=$(it_request meters/OO1/get '' meters/OO1/get/accepted)
check_json "older value does not overwrite, a new key from it is applied" "$get" \
    '.state.reported.v == 2 and .state.reported.w == 7 and .version == 2'
it_request meters/OO1/reported '{"state":{"o":null},"ts":1767258000}' meters/OO1/reported/accepted > /dev/null
get=$(it_request meters/OO1/get '' meters/OO1/get/accepted)
check_json "older null does not delete a newer object" "$get" '.state.reported.o == {"x":1}'
it_request meters/OO1/reported '{"state":{"v":3},"ts":"2026-01-01T11:00:00+01:00"}' meters/OO1/reported/accepted > /dev/null
get=$(it_request meters/OO1/get '' meters/OO1/get/accepted)
check_json "a tie (same instant with an offset) applies" "$get" '.state.reported.v == 3'
it_request meters/OO1/reported '{"state":{"v":4},"ts":"2026-01-01T12:00:00.750Z"}' meters/OO1/reported/accepted > /dev/null
get=$(it_request meters/OO1/get '' meters/OO1/get/accepted)
check_json "a newer report applies, times at second precision" "$get" \
    '.state.reported.v == 4 and .metadata.reported.v.timestamp == "2026-01-01T12:00:00Z"'
acc=$(it_request meters/OO1/desired '{"state":{"v":9}}' meters/OO1/desired/accepted)
check_json "desired updates are stamped with the receipt time" "$acc" \
    '.metadata.desired.v.timestamp > "2026-06-01"'
it_finish
