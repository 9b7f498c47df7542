#!/usr/bin/env bash
# 12-shadowctl.sh — the operator's read commands (SPEC §12) against a database a running shadowd
# writes: meters, shadow, history, intervals (table, JSON, CSV, chart), events, stats; exit codes
# 0 ok / 1 failure / 2 bad usage; progress only on a terminal; read-only opening.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

SHADOWCTL_BIN=${SHADOWCTL_BIN:-$IT_ROOT/$BUILD/shadowctl}

# shadowctl on the test database; under `make valgrind` it runs under the same wrapper as shadowd.
# shadowctl exits 0, 1 or 2; anything else (a signal, a sanitizer or valgrind report) is noted in
# crashes.log, checked at the end, since most calls run in a $(…) subshell.
ctl() {
    local rc=0
    # shellcheck disable=SC2086
    ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=97} UBSAN_OPTIONS=${UBSAN_OPTIONS:-exitcode=97} \
        ${SHADOWD_WRAPPER:-} "$SHADOWCTL_BIN" --db "$IT_DB" "$@" || rc=$?
    [ "$rc" -le 2 ] || echo "exit $rc: shadowctl $*" >> "$IT_DIR/crashes.log"
    return "$rc"
}

# check_rc NAME EXPECTED ARGS…: runs shadowctl and checks its exit code only.
check_rc() {
    local name=$1 want=$2 rc=0
    shift 2
    ctl "$@" > "$IT_DIR/rc.out" 2> "$IT_DIR/rc.err" || rc=$?
    check_eq "$name (exit $want)" "$want" "$rc"
}

M1=EML2137580826    # registers A and B; in circuit "WL power" (A)
M2=EML2137580828    # SINGLE; in circuit "WL power"
SOLAR=EML2137580827 # SINGLE, direction reversed
LONG=EML2226413302  # SINGLE; gets a 60-day gap over the October clock change: a long export
NEVER=EML2226413303 # never reports
WL_POWER=2b1f6c0e-7d4a-4e8b-9c1d-3f5a7b9e0a11
DAY=2026-11-27 # GMT: the local day is the UTC day

it_setup 'meters/#'
ctl import "$IT_ROOT/deploy/example-topology.json" > /dev/null

# ---- Before shadowd ever ran ----------------------------------------------------------------

out=$(ctl stats)
check_eq "stats on a fresh database exits 0" 0 $?
check_eq "stats says there are no statistics yet" "service: no statistics yet" "$(printf '%s\n' "$out" | head -n 1)"
out=$(ctl --json stats)
check_json "stats --json: service null, database counted" "$out" \
    '.service == null and .database.meters == 9 and .database.shadows == 0 and .database.events == 0'

printf 'offline_after_s = 20\nlow_balance_gbp = 5.00\nstats_interval_s = 1\n' > "$IT_DIR/shadowd.conf"
it_start_shadowd -c "$IT_DIR/shadowd.conf"

# ---- Data: reports and reads batches --------------------------------------------------------

# M1, register A: 49 reads, one per half-hour of $DAY and midnight after; period i uses
# 50 Wh × (i mod 12 + 1), except period 2 (01:00), which uses nothing. Total 15.45 kWh.
DAY_START=$(date -u -d "$DAY 00:00:00 UTC" +%s)
reads='' cum=1000000
for k in $(seq 0 48); do
    ts=$((DAY_START + k * 1800)) # reads take Unix seconds too
    read_b=''
    [ "$k" -eq 0 ] && read_b=',"import_b":500.0'
    [ "$k" -eq 2 ] && read_b=',"import_b":500.4'
    reads="$reads${reads:+,}{\"ts\":$ts,\"import_a\":$(printf '%d.%03d' $((cum / 1000)) $((cum % 1000)))$read_b}"
    inc=$((50 * (k % 12 + 1)))
    [ "$k" -eq 2 ] && inc=0
    cum=$((cum + inc))
done
acc=$(it_request meters/$M1/reads "{\"reads\":[$reads]}" meters/$M1/reads/accepted)
check_json "M1's day of reads is accepted" "$acc" '.accepted == 51'

# M2: 100 Wh every half-hour of the same day.
reads=''
for k in $(seq 0 48); do
    ts=$((DAY_START + k * 1800))
    reads="$reads${reads:+,}{\"ts\":$ts,\"import_a\":$((200 + k / 10)).$((k % 10))00}"
done
acc=$(it_request meters/$M2/reads "{\"reads\":[$reads]}" meters/$M2/reads/accepted)
check_json "M2's day of reads is accepted" "$acc" '.accepted == 49'

# LONG: two reads 60 days apart fill 2880 half-hours, across the end of British Summer Time.
acc=$(it_request meters/$LONG/reads '{"reads":[{"ts":"2026-09-01T00:00:00Z","import_a":100},{"ts":"2026-10-31T00:00:00Z","import_a":700}]}' meters/$LONG/reads/accepted)
check_json "LONG's 60-day gap is accepted" "$acc" '.accepted == 2'

it_request meters/$M1/reported '{"state":{"balance":8.25,"emergency_credit":2,"csq":20,"voltage":240.5,"health":"healthy","health_details":"ok","events":[{"ts":"2026-11-27T07:00:00Z","code":"TAMPER","text":"cover, \"opened\""}]},"ts":"2026-11-27T12:00:00Z"}' \
    meters/$M1/reported/accepted > /dev/null
it_request meters/$M1/reported '{"state":{"balance":3.5,"health":"unhealthy","health_details":"relay fault"},"ts":"2026-11-27T18:00:00Z"}' \
    meters/$M1/reported/accepted > /dev/null
it_request meters/$M1/desired '{"state":{"relay":"off"}}' meters/$M1/desired/accepted > /dev/null
it_request meters/$SOLAR/reported '{"state":{"import_a":10,"export_a":50},"ts":"2026-11-27T12:00:00Z"}' \
    meters/$SOLAR/reported/accepted > /dev/null
it_request meters/$SOLAR/reported '{"state":{"import_a":10.5,"export_a":53},"ts":"2026-11-27T13:00:00Z"}' \
    meters/$SOLAR/reported/accepted > /dev/null
it_barrier > /dev/null

# ---- meters -----------------------------------------------------------------------------------

out=$(ctl meters --json)
check_eq "meters --json exits 0 while shadowd runs" 0 $?
check_json "meters --json: one row per registered meter, by serial" "$out" \
    'length == 9 and (map(.serial) == (map(.serial) | sort))'
check_json "meters --json: a reporting meter's balance, health, last seen, status" "$out" \
    ".[] | select(.serial == \"$M1\") | .balance == 3.5 and .health == \"unhealthy\" and .status == \"online\"
       and .esco == \"WLCE\" and .mode == \"active\" and (.last_seen_at | test(\"^[0-9-]{10}T[0-9:]{8}Z$\"))"
check_json "meters --json: a meter never heard from is never_seen, with nulls" "$out" \
    ".[] | select(.serial == \"$NEVER\") | .status == \"never_seen\" and .balance == null and .last_seen_at == null"
out=$(ctl meters)
check_eq "meters table: aligned header" "serial" "$(printf '%s\n' "$out" | head -n 1 | awk '{print $1}')"
check_eq "meters table: header and one line per meter" 10 "$(printf '%s\n' "$out" | wc -l)"
check_eq "meters table: M1's line shows its balance and status" "3.5 online" \
    "$(printf '%s\n' "$out" | awk -v s=$M1 '$1 == s { print $(NF - 3), $NF }')"
out=$(ctl meters --csv --esco AVEC)
check_eq "meters --csv --esco: header and the ESCO's meters" \
    "serial,name,esco,mode,balance,health,last_seen_at,status|3|AVEC AVEC AVEC" \
    "$(printf '%s\n' "$out" | head -n 1)|$(printf '%s\n' "$out" | tail -n +2 | wc -l)|$(printf '%s\n' "$out" | tail -n +2 | cut -d, -f3 | xargs)"
out=$(ctl --json meters --low-balance)
check_json "meters --low-balance lists the meter under low_balance_gbp" "$out" \
    "length == 1 and .[0].serial == \"$M1\""
check_rc "meters --esco of an unknown ESCO" 1 meters --esco NOPE
check_eq "meters --esco NOPE says why" "shadowctl: meters: no ESCO with code 'NOPE'" "$(cat "$IT_DIR/rc.err")"
check_rc "meters with a stray argument" 2 meters extra
check_rc "meters --json --csv" 2 meters --json --csv
check_rc "meters --esco without a value" 2 meters --esco

# ---- shadow -----------------------------------------------------------------------------------

out=$(ctl shadow $M1)
check_eq "shadow exits 0" 0 $?
check_json "shadow: the document with its delta" "$out" \
    '.state.reported.balance == 3.5 and .state.desired.relay == "off" and .state.delta.relay == "off"
     and .metadata.reported.balance.timestamp == "2026-11-27T18:00:00Z" and .version >= 3 and (.metadata | has("delta") | not)'
get=$(it_request meters/$M1/get '' meters/$M1/get/accepted)
check_eq "shadow prints what get answers" "$(printf '%s' "$get" | jq -S .)" "$(printf '%s' "$out" | jq -S .)"
check_rc "shadow of a meter without a shadow" 1 shadow $NEVER
check_eq "shadow without a shadow says so" "shadowctl: no shadow exists for meter: $NEVER" "$(cat "$IT_DIR/rc.err")"
check_rc "shadow without SERIAL" 2 shadow
check_rc "shadow of an invalid serial" 2 shadow 'bad/serial'
check_rc "shadow --csv" 2 shadow $M1 --csv

# ---- history ----------------------------------------------------------------------------------

out=$(ctl history $M1 --field import_a --json)
check_eq "history exits 0" 0 $?
check_json "history import_a: every read, oldest first, first interval null" "$out" \
    'length == 49 and .[0].timestamp == "2026-11-27T00:00:00Z" and .[0].cumulative_kwh == 1000 and .[0].interval_kwh == null
     and .[12].interval_kwh == 0.6 and .[3].interval_kwh == 0 and .[48].cumulative_kwh == 1015.45 and .[1].estimated == false'
out=$(ctl history $M1 --field import_a --from 2026-11-27T06:00:00Z --to 2026-11-27T07:00:00Z --csv)
check_eq "history --csv with a range: [from, to)" \
    "timestamp,cumulative_kwh,interval_kwh,estimated
2026-11-27T06:00:00Z,1003.75,0.6,false
2026-11-27T06:30:00Z,1003.8,0.05,false" "$out"
out=$(ctl history $M1 --field import_a --from $DAY --to $DAY --json)
check_json "history: --from D --to D is the whole local day" "$out" \
    'length == 48 and .[47].timestamp == "2026-11-27T23:30:00Z"'
out=$(ctl history $M1 --field balance --json)
check_json "history balance: one row per change" "$out" \
    'map(.balance) == [8.25, 3.5] and .[1].timestamp == "2026-11-27T18:00:00Z"'
out=$(ctl history $M1 --field emergency_credit --json)
check_json "history emergency_credit: carried forward with each balance row" "$out" 'map(.emergency_credit) == [2, 2]'
out=$(ctl history $M1 --field voltage --json)
check_json "history voltage" "$out" 'length == 1 and .[0].voltage == 240.5 and .[0].timestamp == "2026-11-27T12:00:00Z"'
out=$(ctl history $M1 --field health --csv)
check_eq "history health carries the reason" \
    "timestamp,health,reason
2026-11-27T12:00:00Z,healthy,ok
2026-11-27T18:00:00Z,unhealthy,relay fault" "$out"
out=$(ctl history $M1 --field csq)
check_eq "history table" "timestamp             csq|2026-11-27T12:00:00Z   20" "$(printf '%s\n' "$out" | paste -sd '|')"
out=$(ctl history $SOLAR --field export_a --json)
check_json "history of a reversed register follows the reported field" "$out" \
    'map(.cumulative_kwh) == [50, 53] and .[1].interval_kwh == 3'
check_rc "history import_b of a SINGLE meter" 1 history $M2 --field import_b
check_eq "history import_b of a SINGLE meter says why" "shadowctl: history: meter $M2 has no register B" "$(cat "$IT_DIR/rc.err")"
check_rc "history of an unregistered meter" 1 history EML0000000000 --field balance
check_eq "history of an unregistered meter says so" "shadowctl: meter not registered: EML0000000000" "$(cat "$IT_DIR/rc.err")"
check_rc "history without --field" 2 history $M1
check_rc "history with an unknown field" 2 history $M1 --field wattage
check_rc "history with a bad time" 2 history $M1 --field csq --from yesterday
check_rc "history with a time without a zone" 2 history $M1 --field csq --from 2026-11-27T06:00:00
check_rc "history with --from after --to" 2 history $M1 --field csq --from 2026-11-28 --to 2026-11-27

# ---- intervals --------------------------------------------------------------------------------

out=$(ctl intervals $M1 --period hh --json)
check_eq "intervals exits 0" 0 $?
check_json "intervals hh: per register, A's day sums to the reads" "$out" \
    '(map(select(.element == "A")) | length == 48 and (map(.import_kwh) | add * 1000 | round) == 15450)
     and (map(select(.element == "B")) | length == 2) and .[0].timestamp == "2026-11-27T00:00:00Z"
     and .[0].element == "A" and .[1].element == "B" and .[0].quality == "actual" and .[0].complete == true'
out=$(ctl intervals $M1 --period hh --csv)
check_eq "intervals --csv: header" "timestamp,element,import_kwh,export_kwh,quality,complete,revision" \
    "$(printf '%s\n' "$out" | head -n 1)"
check_eq "intervals --csv: one line per register period" 50 "$(printf '%s\n' "$out" | tail -n +2 | wc -l)"
check_eq "intervals --csv: the 05:30 period" "2026-11-27T05:30:00Z,A,0.6,,actual,true,1" \
    "$(printf '%s\n' "$out" | grep '^2026-11-27T05:30:00Z,A,')"
out=$(ctl intervals $M1 --period day --json)
check_json "intervals day of a meter: local days summed per register" "$out" \
    '.[0] == {"day":"2026-11-27","element":"A","import_kwh":15.45,"export_kwh":null,"hh_count":48,"complete":true}
     and .[1].element == "B" and .[1].import_kwh == 0.4 and .[1].complete == false and length == 2'
out=$(ctl intervals $M1 --period month --json)
check_json "intervals month of a meter" "$out" \
    '.[0].month == "2026-11" and .[0].import_kwh == 15.45 and .[0].hh_count == 48 and .[0].complete == false'
out=$(ctl intervals $LONG --period day --from 2026-10-24 --to 2026-10-25 --json)
check_json "intervals day of a meter: the day the clocks go back has 50 half-hours" "$out" \
    'map([.day, .hh_count, .complete]) == [["2026-10-24", 48, true], ["2026-10-25", 50, true]]'
out=$(ctl intervals $LONG --period hh --from 2026-10-24 --to 2026-10-24 --json)
check_json "a bare date is a local day: BST starts it at 23:00Z" "$out" \
    'length == 48 and .[0].timestamp == "2026-10-23T23:00:00Z" and .[47].timestamp == "2026-10-24T22:30:00Z"'
out=$(ctl intervals $M1 --period day)
check_eq "intervals table header" "day element import kwh export kwh hh count complete" \
    "$(printf '%s\n' "$out" | head -n 1 | tr -s ' ')"
by_name=$(ctl intervals --circuit "WL power" --period hh --json)
by_id=$(ctl intervals --circuit $WL_POWER --period hh --json)
check_json "intervals of a circuit: HH buckets sum its registers" "$by_name" \
    'length == 48 and (map(.import_kwh) | add * 1000 | round) == 20250 and .[0].registers == 2 and .[0].complete == false'
check_eq "--circuit takes the id or the name" "$by_id" "$by_name"
out=$(ctl intervals --circuit "WL power" --period day --from $DAY --to $DAY --json)
check_json "intervals of a circuit by local day" "$out" \
    'length == 1 and .[0].day == "2026-11-27" and .[0].total_import_kwh == 20.25 and .[0].hh_count == 48'
out=$(ctl intervals --circuit "WL power" --period month --csv)
check_eq "intervals of a circuit by month, CSV" "month,total_import_kwh,total_export_kwh,hh_count,days_in_month,complete,revision|2026-11,20.25,0,48" \
    "$(printf '%s\n' "$out" | head -n 1)|$(printf '%s\n' "$out" | sed -n 2p | cut -d, -f1-4)"
out=$(ctl intervals --circuit "WL power" --period day --from 2026-11-28)
check_eq "a range without buckets prints the header only" 1 "$(printf '%s\n' "$out" | wc -l)"
check_rc "intervals of an unknown circuit" 1 intervals --circuit "Nowhere" --period hh
check_rc "intervals without --period" 2 intervals $M1
check_rc "intervals with a bad --period" 2 intervals $M1 --period week
check_rc "intervals with SERIAL and --circuit" 2 intervals $M1 --circuit "WL power" --period hh
check_rc "intervals with neither SERIAL nor --circuit" 2 intervals --period hh
check_rc "intervals --chart --json" 2 intervals $M1 --period hh --chart --json
check_rc "intervals of an unregistered meter" 1 intervals EML0000000000 --period hh

# ---- intervals --chart ------------------------------------------------------------------------

ctl intervals $M1 --period hh --from $DAY --to $DAY --chart > "$IT_DIR/chart.txt"
check_eq "--chart exits 0" 0 $?
check_eq "--chart: a title, a heading, one line per half-hour" 50 "$(wc -l < "$IT_DIR/chart.txt")"
width=$(LC_ALL=C.UTF-8 wc -L < "$IT_DIR/chart.txt")
if [ "$width" -le 80 ]; then it_ok "--chart fits 80 columns ($width)"; else it_not_ok "--chart fits 80 columns" "widest line: $width"; fi
check_eq "--chart: labels from the first to the last half-hour" "2026-11-27 00:00|2026-11-27 23:30" \
    "$(sed -n 3p "$IT_DIR/chart.txt" | cut -c1-16)|$(tail -n 1 "$IT_DIR/chart.txt" | cut -c1-16)"
blocks() { LC_ALL=C.UTF-8 grep -o '[▏▎▍▌▋▊▉█]' | wc -l; }
peak=$(grep '^2026-11-27 05:30 ' "$IT_DIR/chart.txt" | blocks)
most=$(tail -n +3 "$IT_DIR/chart.txt" | while IFS= read -r line; do printf '%s\n' "$line" | blocks; done | sort -n | tail -n 1)
check_eq "--chart: the largest period has the longest bar" "$most" "$peak"
check_eq "--chart: the largest period shows its value" "0.600" "$(grep '^2026-11-27 05:30 ' "$IT_DIR/chart.txt" | awk '{print $3}')"
check_eq "--chart: a zero period shows 0.000 and no bar" "0.000|0" \
    "$(grep '^2026-11-27 01:00 ' "$IT_DIR/chart.txt" | awk '{print $3}')|$(grep '^2026-11-27 01:00 ' "$IT_DIR/chart.txt" | blocks)"
half=$(grep '^2026-11-27 02:30 ' "$IT_DIR/chart.txt" | blocks) # 0.3 of 0.6: half the bar
if [ "$peak" -gt 0 ] && [ $((half * 2)) -ge $((peak - 1)) ] && [ $((half * 2)) -le $((peak + 2)) ]; then
    it_ok "--chart: bars are scaled to the largest value"
else
    it_not_ok "--chart: bars are scaled to the largest value" "half: $half, peak: $peak"
fi
ctl intervals $M1 --period hh --from 2026-11-26 --to $DAY --chart > "$IT_DIR/chart2.txt"
check_eq "--chart: half-hours without data in the range are drawn as -" "48|96" \
    "$(grep -c ' -$' "$IT_DIR/chart2.txt")|$(tail -n +3 "$IT_DIR/chart2.txt" | wc -l)"
ctl intervals $SOLAR --period hh --chart > "$IT_DIR/chart3.txt"
check_eq "--chart: export is drawn beside import when there is any" "import export" \
    "$(sed -n 2p "$IT_DIR/chart3.txt" | grep -o 'import\|export' | xargs)"
ctl intervals --circuit "WL power" --period day --chart > "$IT_DIR/chart4.txt"
check_eq "--chart by day: one line per local day" "2026-11-27 20.250" "$(tail -n 1 "$IT_DIR/chart4.txt" | awk '{print $1, $2}')"

# ---- Long exports: progress on a terminal only ------------------------------------------------

ctl intervals $LONG --period hh --csv > "$IT_DIR/long.csv" 2> "$IT_DIR/long.err"
check_eq "a long export: every half-hour of the gap" 2881 "$(wc -l < "$IT_DIR/long.csv")"
check_eq "a long export to a pipe prints no progress" "" "$(cat "$IT_DIR/long.err")"
script -qec "'$SHADOWCTL_BIN' --db '$IT_DB' intervals $LONG --period hh --csv > '$IT_DIR/long2.csv'" /dev/null > "$IT_DIR/tty.out" 2>&1
if grep -q 'exporting \[' "$IT_DIR/tty.out" && grep -q '100%' "$IT_DIR/tty.out"; then
    it_ok "a long export shows a progress bar on a terminal"
else
    it_not_ok "a long export shows a progress bar on a terminal" "terminal: $(cat -v "$IT_DIR/tty.out" | head -c 300)"
fi
check_eq "the progress bar stays off stdout" "" "$(cmp "$IT_DIR/long.csv" "$IT_DIR/long2.csv")"

# ---- events -----------------------------------------------------------------------------------

out=$(ctl events $M1 --json)
check_eq "events exits 0" 0 $?
check_json "events: newest first" "$out" 'length >= 3 and (map(.timestamp) == (map(.timestamp) | sort | reverse))'
check_json "events: the meter's own, its text as a string" "$out" \
    ".[] | select(.type == \"TAMPER\") | .source == \"meter\" and .serial == \"$M1\" and .details == \"cover, \\\"opened\\\"\" and .timestamp == \"2026-11-27T07:00:00Z\""
check_json "events: the service's, details as JSON" "$out" \
    '.[] | select(.type == "low_balance") | .source == "service" and (.details | type == "object")'
one=$(ctl events $M1 --limit 1 --json)
check_json "events --limit 1: the newest" "$one" "length == 1 and .[0] == $(printf '%s' "$out" | jq -c '.[0]')"
out=$(ctl events $M1 --csv)
check_eq "events --csv quotes a text with a comma and quotes" 1 \
    "$(printf '%s\n' "$out" | grep -cF ',TAMPER,meter,"cover, ""opened"""')"
all=$(ctl events --limit 0 --json)
check_eq "events of every meter, --limit 0 for all" "$(it_sql 'SELECT count(*) FROM meter_event_log')" \
    "$(printf '%s' "$all" | jq length)"
check_rc "events of an unregistered meter" 1 events EML0000000000
check_rc "events --limit -1" 2 events --limit -1
check_rc "events --limit x" 2 events --limit x

# ---- stats ------------------------------------------------------------------------------------

out=$(ctl stats --json)
check_eq "stats exits 0 while shadowd runs" 0 $?
commands=$(it_sql "SELECT count(*) FROM sqlite_master WHERE name = 'meter_commands'")
check_json "stats: figures counted from the database" "$out" \
    ".database.meters == 9 and .database.shadows == $(it_sql 'SELECT count(*) FROM shadow_documents WHERE deleted = 0')
     and .database.register_reads == $(it_sql 'SELECT count(*) FROM register_reads')
     and .database.events == $(it_sql 'SELECT count(*) FROM meter_event_log')
     and (if $commands == 1 then (.database.commands | has(\"pending\")) else .database.commands == null end)"
# shadowd stores its counters every stats_interval_s (1 s here).
for _ in $(seq 1 50); do
    out=$(ctl stats --json)
    printf '%s' "$out" | jq -e '.service.counters.accepted >= 5' > /dev/null 2>&1 && break
    sleep 0.1
done
check_json "stats: the counters shadowd stored" "$out" \
    '.service.counters.received >= .service.counters.accepted and .service.counters.accepted >= 5
     and (.service.counters | has("commands_sent"))'
it_sql "INSERT OR REPLACE INTO service_stats (name, value, updated_at) VALUES ('it_probe', 12345, '2026-11-28T09:00:00Z')"
out=$(ctl stats --json)
check_json "stats: the service's stored counters" "$out" '.service.counters.it_probe == 12345 and (.service.updated_at | test("Z$"))'
out=$(ctl stats --csv)
check_eq "stats --csv: a counter line" "service,it_probe,12345" "$(printf '%s\n' "$out" | grep '^service,it_probe,' | cut -d, -f1-3)"
out=$(ctl stats)
check_eq "stats table: a counter line" "it_probe 12345" "$(printf '%s\n' "$out" | awk '$1 == "it_probe" { print $1, $2 }')"
sqlite3 "$IT_DB" ".backup '$IT_DIR/old.db'"
sqlite3 "$IT_DIR/old.db" "DROP TABLE service_stats"
out=$("$SHADOWCTL_BIN" --db "$IT_DIR/old.db" stats)
check_eq "stats on a database without service_stats: exit 0" 0 $?
check_eq "stats on a database without service_stats: no statistics yet" "service: no statistics yet" "$(printf '%s\n' "$out" | head -n 1)"

# ---- Opening the database ---------------------------------------------------------------------

check_rc "a missing database" 1 --db "$IT_DIR/none.db" meters
if [ -e "$IT_DIR/none.db" ]; then it_not_ok "a read command creates no database"; else it_ok "a read command creates no database"; fi
sqlite3 "$IT_DIR/old.db" "PRAGMA user_version = 3"
"$SHADOWCTL_BIN" --db "$IT_DIR/old.db" meters > /dev/null 2> "$IT_DIR/old.err"
check_eq "a database older than the views: exit 1" 1 $?
if grep -q 'schema version 3 is older' "$IT_DIR/old.err"; then it_ok "an old database: says why"; else it_not_ok "an old database: says why" "$(cat "$IT_DIR/old.err")"; fi
before=$(it_sql "PRAGMA user_version")
ctl meters > /dev/null
check_eq "read commands migrate nothing" "$before" "$(it_sql 'PRAGMA user_version')"
check_rc "an unknown command" 2 frobnicate
check_rc "intervals --help" 0 intervals --help
if grep -q '^usage: shadowctl \[--db PATH\] intervals ' "$IT_DIR/rc.out"; then it_ok "intervals --help prints its usage"; else it_not_ok "intervals --help prints its usage" "$(cat "$IT_DIR/rc.out")"; fi

# ---- Offline, then shadowd still answers after all these readers -----------------------------

# SOLAR has been silent since the start; it may have gone offline already.
for _ in $(seq 1 600); do
    grep -q "^meters/$SOLAR/events .*\"offline\"" "$IT_DIR/sub.log" && break
    sleep 0.1
done
check_eq "a silent meter goes offline" 1 "$(grep -c "^meters/$SOLAR/events .*\"offline\"" "$IT_DIR/sub.log")"
out=$(ctl meters --offline --json)
check_json "meters --offline lists it, not the meters never seen" "$out" \
    "(map(.serial) | index(\"$SOLAR\")) != null and (map(.status) | unique) == [\"offline\"]"
acc=$(it_request meters/$M1/reported '{"state":{"csq":21}}' meters/$M1/reported/accepted)
check_json "shadowd still accepts reports after the readers" "$acc" '.version >= 1'
check_eq "every shadowctl run exited 0, 1 or 2" "" "$(cat "$IT_DIR/crashes.log" 2> /dev/null)"
it_finish
