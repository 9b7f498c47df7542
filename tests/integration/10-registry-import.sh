#!/usr/bin/env bash
# 10-registry-import.sh — `shadowctl import` (SPEC §7, §12) on a real SQLite file: the example's
# counts, an unchanged re-import that writes no row (updated_at included), a one-field change that
# updates exactly one row, links that move, a refused file that lists every problem and changes
# nothing, ids that stay put, ids given in the file, usage errors. No broker or shadowd is needed.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

SHADOWCTL_BIN=${SHADOWCTL_BIN:-$IT_ROOT/$BUILD/shadowctl}
EXAMPLE=$IT_ROOT/deploy/example-topology.json
REGISTRY_TABLES="escos sites_new properties feeder_registry service_head_registry
    properties_service_head meter_registry service_head_meter meter_registers circuits
    circuit_register"

# A temporary directory and database, and nothing else (it_setup would start a broker).
reg_setup() {
    IT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/shadow-it.XXXXXX")
    IT_DB="$IT_DIR/shadow.db"
    trap it_cleanup EXIT
}

# shadowctl on the test database; under `make valgrind` it runs under the same wrapper as shadowd.
ctl() {
    # shellcheck disable=SC2086
    ${SHADOWD_WRAPPER:-} "$SHADOWCTL_BIN" --db "$IT_DB" "$@"
}

# A checksum over every row of every registry table, in key order.
registry_sum() {
    local t
    for t in $REGISTRY_TABLES; do
        echo "== $t"
        it_sql "SELECT * FROM $t ORDER BY 1, 2"
    done | sha256sum | cut -d' ' -f1
}

# The sum of one count (created, updated, unchanged, removed) over every entity type.
total() {
    printf '%s' "$1" | jq "[.[].$2] | add"
}

reg_setup

# ---- First import ---------------------------------------------------------------------------

out=$(ctl import --json "$EXAMPLE")
check_eq "first import exits 0" 0 $?
check_json "first import creates every entity of the example" "$out" \
    '.escos.created == 2 and .sites.created == 3 and .feeders.created == 3
     and .service_heads.created == 6 and .properties.created == 6 and .meters.created == 9
     and .registers.created == 13 and .circuits.created == 6
     and .property_service_heads.created == 6 and .meter_service_heads.created == 9
     and .circuit_registers.created == 10'
check_eq "first import updates nothing" 0 "$(total "$out" updated)"
check_eq "first import leaves nothing unchanged" 0 "$(total "$out" unchanged)"

ids_before=$(it_sql "SELECT 'm', serial, id FROM meter_registry UNION ALL
    SELECT 'r', m.serial || r.element, r.register_id FROM meter_registers r
        JOIN meter_registry m ON m.id = r.meter_id UNION ALL
    SELECT 'e', code, id FROM escos UNION ALL SELECT 'c', name, id FROM circuits ORDER BY 1, 2")
stamps_before=$(it_sql "SELECT serial, created_at, updated_at FROM meter_registry ORDER BY serial")
sum_before=$(registry_sum)

check_eq "ids are UUIDs" 0 "$(it_sql "SELECT count(*) FROM meter_registry
    WHERE id NOT GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-*'
       OR length(id) != 36 OR substr(id, 15, 1) != '4'")"
check_eq "a given circuit id is honoured" "WL power" \
    "$(it_sql "SELECT name FROM circuits WHERE id = '2b1f6c0e-7d4a-4e8b-9c1d-3f5a7b9e0a11'")"
check_eq "the passive meter is passive" "passive" \
    "$(it_sql "SELECT mode FROM meter_registry WHERE serial = 'EML2137580830'")"
check_eq "the solar register is reversed" "1" \
    "$(it_sql "SELECT r.direction_reversed FROM meter_registers r JOIN meter_registry m
        ON m.id = r.meter_id WHERE m.serial = 'EML2137580827' AND r.element = 'SINGLE'")"
check_eq "rollover_kwh is stored" "100000.0" \
    "$(it_sql "SELECT r.rollover_kwh FROM meter_registers r JOIN meter_registry m
        ON m.id = r.meter_id WHERE m.serial = 'EML2137580826' AND r.element = 'B'")"
check_eq "a handover: one mapping ends where the next starts" \
    "2025-01-01T00:00:00Z|2025-06-30T23:00:00Z
2025-06-30T23:00:00Z|" \
    "$(it_sql "SELECT start_time, end_time FROM circuit_register cr JOIN circuits c
        ON c.id = cr.circuit WHERE c.name = 'WL heat' ORDER BY start_time")"
check_eq "a start with an offset is stored in UTC" "2025-03-31T23:00:00Z" \
    "$(it_sql "SELECT start_time FROM circuit_register cr JOIN circuits c ON c.id = cr.circuit
        WHERE c.name = 'WL2 heat'")"
# Max power (SPEC §6) = fuse A × 230 V × phases of the meter's service head: the join must exist.
check_eq "max power data: three-phase and single-phase meters" "EML2137580826|23000.0
EML2137580829|69000.0
EML2226413301|41400.0" \
    "$(it_sql "SELECT m.serial, h.fuse_rating_amps * 230 * h.phase FROM meter_registry m
        JOIN service_head_meter sm ON sm.meter = m.id
        JOIN service_head_registry h ON h.id = sm.service_head
        WHERE m.serial IN ('EML2137580826', 'EML2137580829', 'EML2226413301') ORDER BY 1")"

# ---- The same file again: nothing is written ------------------------------------------------

sleep 1 # a write would now carry a later updated_at
out=$(ctl import --json "$EXAMPLE")
check_eq "re-import exits 0" 0 $?
check_eq "re-import: every entity unchanged" 73 "$(total "$out" unchanged)"
check_eq "re-import: nothing created, updated or removed" "0 0 0" \
    "$(total "$out" created) $(total "$out" updated) $(total "$out" removed)"
check_eq "re-import: updated_at of every meter unchanged" "$stamps_before" \
    "$(it_sql "SELECT serial, created_at, updated_at FROM meter_registry ORDER BY serial")"
check_eq "re-import: every registry table unchanged" "$sum_before" "$(registry_sum)"

table=$(ctl import "$EXAMPLE")
check_eq "the human table exits 0" 0 $?
if printf '%s\n' "$table" | grep -Eq '^meters +0 +0 +9 +0$' &&
    printf '%s\n' "$table" | grep -Eq '^circuit registers +0 +0 +10 +0$'; then
    it_ok "the human table has a row per entity type"
else
    it_not_ok "the human table has a row per entity type" "got: $table"
fi

out=$(ctl import --json - < "$EXAMPLE")
check_eq "import from stdin (-) is unchanged too" 73 "$(total "$out" unchanged)"

# ---- One meter renamed: exactly one row updated ---------------------------------------------

jq '(.meters[] | select(.serial == "EML2137580828") | .name) = "WL-02 supply (new tenant)"' \
    "$EXAMPLE" > "$IT_DIR/renamed.json"
sleep 1
out=$(ctl import --json "$IT_DIR/renamed.json")
check_eq "renamed import exits 0" 0 $?
check_eq "renamed import: exactly one row updated" 1 "$(total "$out" updated)"
check_json "renamed import: the one update is a meter" "$out" '.meters.updated == 1'
check_eq "renamed import: the name is stored" "WL-02 supply (new tenant)" \
    "$(it_sql "SELECT name FROM meter_registry WHERE serial = 'EML2137580828'")"
check_eq "renamed import: only that meter's updated_at moved" \
    "EML2137580828" \
    "$(diff <(printf '%s\n' "$stamps_before") \
        <(it_sql "SELECT serial, created_at, updated_at FROM meter_registry ORDER BY serial") |
        sed -n 's/^> \([^|]*\)|.*/\1/p')"
check_eq "renamed import: created_at kept" \
    "$(printf '%s\n' "$stamps_before" | awk -F'|' '$1 == "EML2137580828" { print $2 }')" \
    "$(it_sql "SELECT created_at FROM meter_registry WHERE serial = 'EML2137580828'")"

ids_after=$(it_sql "SELECT 'm', serial, id FROM meter_registry UNION ALL
    SELECT 'r', m.serial || r.element, r.register_id FROM meter_registers r
        JOIN meter_registry m ON m.id = r.meter_id UNION ALL
    SELECT 'e', code, id FROM escos UNION ALL SELECT 'c', name, id FROM circuits ORDER BY 1, 2")
check_eq "ids are stable across imports" "$ids_before" "$ids_after"

# ---- Links follow the file ------------------------------------------------------------------

jq '(.meters[] | select(.serial == "EML2137580827") | .service_head) = "SH-WL-02"
    | (.circuits[] | select(.name == "WL power") | .registers) |= map(select(.meter != "EML2137580829"))
    | (.circuits[] | select(.name == "WL heat") | .registers[1].end) = "2026-01-01T00:00:00Z"' \
    "$IT_DIR/renamed.json" > "$IT_DIR/moved.json"
out=$(ctl import --json "$IT_DIR/moved.json")
check_json "a meter's service head moves: its row is replaced" "$out" \
    '.meter_service_heads.updated == 1 and .meter_service_heads.created == 0'
check_json "a mapping left out is removed, an end set is an update" "$out" \
    '.circuit_registers.removed == 1 and .circuit_registers.updated == 1'
check_eq "moves touch no entity row" 0 \
    "$(printf '%s' "$out" | jq '[.escos, .sites, .feeders, .service_heads, .properties, .meters,
        .registers, .circuits | .updated] | add')"
check_eq "the meter sits under its new service head" "SH-WL-02" \
    "$(it_sql "SELECT h.name FROM service_head_meter sm JOIN service_head_registry h
        ON h.id = sm.service_head JOIN meter_registry m ON m.id = sm.meter
        WHERE m.serial = 'EML2137580827'")"

# ---- Entities absent from a later file are kept ---------------------------------------------

printf '%s' '{"escos":[{"code":"WLCE","name":"Water Lilies Community Energy"}]}' > "$IT_DIR/one.json"
out=$(ctl import --json "$IT_DIR/one.json")
check_json "a partial file: its one ESCO is unchanged" "$out" '.escos.unchanged == 1'
check_eq "a partial file keeps every meter" 9 "$(it_sql "SELECT count(*) FROM meter_registry")"

# ---- A broken file: every problem listed, nothing changed -----------------------------------

sum_before=$(registry_sum)
jq '.meters[0].esco = "NOPE"
    | .meters[1].registers[0].element = "C"
    | .meters[2].registers += [{"element": "A"}]
    | .service_heads[0].phase = 2
    | .properties[0].site = "Atlantis"
    | .circuits[0].registers[0].meter = "EML0000000000"
    | .circuits[1].registers[1].element = "SINGLE"
    | .meters[3].id = "2b1f6c0e-7d4a-4e8b-9c1d-3f5a7b9e0a11"
    | .meters[4].name = "changed, but the file is refused"' \
    "$IT_DIR/moved.json" > "$IT_DIR/broken.json"
ctl import "$IT_DIR/broken.json" > "$IT_DIR/broken.out" 2> "$IT_DIR/broken.err"
check_eq "a broken file exits 1" 1 $?
check_eq "a broken file prints nothing on stdout" "" "$(cat "$IT_DIR/broken.out")"
broken=$IT_DIR/broken.json
expected=(
    "shadowctl: $broken: service_heads[0].phase: must be 1 or 3, got 2"
    "shadowctl: $broken: meters[1].registers[0].element: must be A, B or SINGLE, got 'C'"
    "shadowctl: $broken: meters[2].registers[1].element: a SINGLE meter has only a SINGLE register, got 'A' beside 'SINGLE' (registers[0])"
    "shadowctl: $broken: properties[0].site: no site 'Atlantis' in the file or the database"
    "shadowctl: $broken: meters[0].esco: no ESCO 'NOPE' in the file or the database"
    "shadowctl: $broken: meters[3].id: '2b1f6c0e-7d4a-4e8b-9c1d-3f5a7b9e0a11' differs from the stored id '$(it_sql "SELECT id FROM meter_registry WHERE serial = 'EML2137580829'")' of this meter; ids never change"
    "shadowctl: $broken: circuits[0].registers[0].meter: no meter 'EML0000000000' in the file or the database"
    "shadowctl: $broken: circuits[1].registers[1].element: meter 'EML2137580826' has no register 'SINGLE' in the file or the database"
    "shadowctl: $broken: rejected with 8 problems; nothing was changed"
)
for line in "${expected[@]}"; do
    if grep -Fxq -- "$line" "$IT_DIR/broken.err"; then
        it_ok "problem listed: ${line#"shadowctl: $broken: "}"
    else
        it_not_ok "problem listed: ${line#"shadowctl: $broken: "}" "stderr:" "$(cat "$IT_DIR/broken.err")"
    fi
done
check_eq "every problem on its own line, and nothing else" "${#expected[@]}" \
    "$(wc -l < "$IT_DIR/broken.err")"
check_eq "a broken file changes no row" "$sum_before" "$(registry_sum)"

# ---- Usage and environment ------------------------------------------------------------------

ctl > /dev/null 2>&1
check_eq "no command: exit 2" 2 $?
ctl frobnicate > /dev/null 2> "$IT_DIR/usage.err"
check_eq "unknown command: exit 2" 2 $?
check_eq "unknown command: one reason and the usage line" \
    "shadowctl: unknown command 'frobnicate'
usage: shadowctl [--db PATH] [--json] COMMAND [ARGS...]" "$(cat "$IT_DIR/usage.err")"
ctl import > /dev/null 2>&1
check_eq "import without FILE: exit 2" 2 $?
ctl import a.json b.json > /dev/null 2>&1
check_eq "import with two FILEs: exit 2" 2 $?
ctl import --frob "$EXAMPLE" > /dev/null 2>&1
check_eq "import with an unknown option: exit 2" 2 $?
ctl import "$IT_DIR/missing.json" > /dev/null 2> "$IT_DIR/missing.err"
check_eq "import of a missing file: exit 1" 1 $?
check_eq "import of a missing file: the error names it" \
    "shadowctl: $IT_DIR/missing.json: No such file or directory" "$(cat "$IT_DIR/missing.err")"
ctl --help > /dev/null
check_eq "--help: exit 0" 0 $?
ctl import --help > /dev/null
check_eq "import --help: exit 0" 0 $?
# shellcheck disable=SC2086
SHADOWD_DB="$IT_DIR/env.db" ${SHADOWD_WRAPPER:-} "$SHADOWCTL_BIN" import --json "$EXAMPLE" > /dev/null
check_eq "SHADOWD_DB names the database" 9 \
    "$(sqlite3 -batch -noheader "$IT_DIR/env.db" "SELECT count(*) FROM meter_registry")"

it_finish
