#!/usr/bin/env bash
# The life of one shadow over MQTT: create by report, desired and delta, get, delete, re-create.
. "$(dirname "$0")/lib.sh"
export SHADOWD_UNKNOWN_METERS=provision # these tests are about documents, not the registry
it_setup
it_start_shadowd

m=$(it_mark)
it_pub meters/EML1/reported '{"state":{"balance":12.5}}'
acc=$(it_next "$m" meters/EML1/reported/accepted)
check_json "report creates version 1" "$acc" '.version == 1 and .state.reported.balance == 12.5'
check_json "accepted carries metadata timestamps" "$acc" \
    '.metadata.reported.balance.timestamp | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")'
docs=$(it_next "$m" meters/EML1/documents)
check_json "documents of a new shadow has previous null" "$docs" \
    '.previous == null and .current.version == 1 and .current.state.reported.balance == 12.5'

m=$(it_mark)
it_pub meters/EML1/desired '{"state":{"tariff":{"rate":0.3,"band":"day"}},"clientToken":"op-1"}'
acc=$(it_next "$m" meters/EML1/desired/accepted)
check_json "desired accepted echoes request and token" "$acc" \
    '.state.desired.tariff.rate == 0.3 and .version == 2 and .clientToken == "op-1"'
delta=$(it_next "$m" meters/EML1/delta)
check_json "delta holds desired leaves missing from reported" "$delta" \
    '.state == {"tariff":{"rate":0.3,"band":"day"}} and .version == 2 and .clientToken == "op-1"'
docs=$(it_next "$m" meters/EML1/documents)
check_json "documents carries previous and current" "$docs" \
    '.previous.version == 1 and .current.version == 2 and .current.state.desired.tariff.band == "day"'

m=$(it_mark)
it_pub meters/EML1/reported '{"state":{"tariff":{"rate":0.3}}}'
delta=$(it_next "$m" meters/EML1/delta)
check_json "partial report shrinks the delta to the differing leaf" "$delta" \
    '.state == {"tariff":{"band":"day"}} and .version == 3'

get=$(it_request meters/EML1/get '{"clientToken":"g1"}' meters/EML1/get/accepted)
check_json "get returns the whole document with delta" "$get" \
    '.state.desired.tariff.band == "day" and .state.reported.balance == 12.5 and
     .state.delta == {"tariff":{"band":"day"}} and .version == 3 and .clientToken == "g1" and
     (.metadata.desired.tariff.rate.timestamp | type == "string")'

m=$(it_mark)
it_pub meters/EML1/reported '{"state":{"tariff":{"band":"day"}},"desired":null}'
acc=$(it_next "$m" meters/EML1/reported/accepted)
check_json "report with desired:null is accepted in one version" "$acc" '.version == 4'
get=$(it_request meters/EML1/get '' meters/EML1/get/accepted)
check_json "desired section cleared, no delta left" "$get" \
    '(.state | has("desired") | not) and (.state | has("delta") | not) and .state.reported.tariff.band == "day"'

m=$(it_mark)
it_pub meters/EML1/reported '{"state":{"balance":12.5}}'
acc=$(it_next "$m" meters/EML1/reported/accepted)
check_json "equal re-report is accepted without a new version" "$acc" '.version == 4'
it_barrier > /dev/null
check_eq "equal re-report publishes no documents" 0 "$(it_count "$m" meters/EML1/documents)"

del=$(it_request meters/EML1/delete '{"clientToken":"d1"}' meters/EML1/delete/accepted)
check_json "delete answers the deleted version" "$del" '.version == 4 and .clientToken == "d1"'
rej=$(it_request meters/EML1/get '' meters/EML1/get/rejected)
check_json "get after delete is 404" "$rej" \
    '.code == 404 and .message == "No shadow exists for meter: EML1"'
rej=$(it_request meters/EML1/delete '' meters/EML1/delete/rejected)
check_json "delete of a deleted shadow is 404" "$rej" '.code == 404'
check_eq "soft delete keeps the row and version" "4|1" \
    "$(it_sql "SELECT version, deleted FROM shadow_documents WHERE serial = 'EML1'")"

m=$(it_mark)
it_pub meters/EML1/reported '{"state":{"balance":3}}'
acc=$(it_next "$m" meters/EML1/reported/accepted)
check_json "re-created shadow continues the version" "$acc" '.version == 5'
docs=$(it_next "$m" meters/EML1/documents)
check_json "re-created shadow has previous null and no old content" "$docs" \
    '.previous == null and .current.state.reported == {"balance":3}'

rej=$(it_request meters/EML1/desired '{"state":{"x":1},"version":4}' meters/EML1/desired/rejected)
check_json "stale version is a 409" "$rej" '.code == 409 and .message == "Version conflict"'
acc=$(it_request meters/EML1/desired '{"state":{"x":1},"version":5}' meters/EML1/desired/accepted)
check_json "matching version is accepted" "$acc" '.version == 6'
rej=$(it_request meters/NEW1/desired '{"state":{"x":1},"version":1}' meters/NEW1/desired/rejected)
check_json "a shadow that never existed is at version 0" "$rej" '.code == 409'

stored=$(it_sql "SELECT document FROM shadow_documents WHERE serial = 'EML1'")
check_json "stored document has state, metadata, version, timestamp" "$stored" \
    '.version == 6 and .state.desired.x == 1 and .metadata.reported.balance.timestamp != null and
     (.timestamp | type == "string") and (.state | has("delta") | not)'
check_eq "database is in WAL mode" wal "$(it_sql 'PRAGMA journal_mode')"
check_eq "every migration applied" "$(ls "$IT_ROOT"/schema/[0-9]*.sql | wc -l)" "$(it_sql "PRAGMA user_version")"

it_finish
