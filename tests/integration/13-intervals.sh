#!/usr/bin/env bash
# Half-hourly intervals and circuit aggregates end to end: a week of hourly reads for the meters
# of one circuit, sent as shuffled batches with duplicates and a few live reports; the daily
# circuit totals must equal the register differences exactly, and the circuit topics must carry
# the final values.
. "$(dirname "$0")/lib.sh"
it_setup 'meters/#' 'circuits/#'
printf 'stats_interval_s = 1\n' > "$IT_DIR/shadowd.conf"
"$IT_ROOT/$BUILD/shadowctl" --db "$IT_DB" import "$IT_ROOT/deploy/example-topology.json" > /dev/null
it_start_shadowd -c "$IT_DIR/shadowd.conf"

CIRCUIT=2b1f6c0e-7d4a-4e8b-9c1d-3f5a7b9e0a11 # "WL power": 826/A, 828/SINGLE, 829/A
METERS="EML2137580826 EML2137580828 EML2137580829"
START=$(date -u -d 2026-11-02T00:00:00Z +%s) # a Monday, GMT: local days are UTC days
HOURS=168

# Deterministic cumulative reads in Wh: a daily shape plus a per-meter factor.
reads_file="$IT_DIR/reads.txt" # serial ts wh
for serial in $METERS; do
    awk -v s="$serial" -v start="$START" -v hours="$HOURS" -v seed="${serial: -2}" 'BEGIN {
        wh = 1000000 + seed * 1000; srand(seed)
        for (h = 0; h <= hours; h++) {
            print s, start + h * 3600, wh
            hod = h % 24
            wh += int((hod >= 17 && hod <= 21 ? 900 : 300) * (0.5 + rand()) + (seed % 7) * 10)
        }
    }'
done > "$reads_file"

# Shuffled batches of up to 20 reads per meter message, every fifth read also sent again.
shuf --random-source=<(yes) "$reads_file" > "$IT_DIR/shuffled"
awk 'NR % 5 == 0' "$IT_DIR/shuffled" >> "$IT_DIR/shuffled"
for serial in $METERS; do
    grep "^$serial " "$IT_DIR/shuffled" | awk '{ printf "{\"ts\":%s,\"import_a\":%.3f}\n", $2, $3 / 1000 }' |
        split -l 20 - "$IT_DIR/batch-$serial-"
    for f in "$IT_DIR"/batch-"$serial"-*; do
        it_pub "meters/$serial/reads" "{\"reads\":[$(paste -sd, "$f")]}"
    done
done
# The same meter also reporting live (a duplicate of a batch read, taken at its time).
last_wh=$(awk -v s=EML2137580826 -v t=$((START + HOURS * 3600)) '$1 == s && $2 == t { print $3 }' "$reads_file")
acc=$(it_request meters/EML2137580826/reported \
    "{\"state\":{\"import_a\":$(awk -v w="$last_wh" 'BEGIN { printf "%.3f", w / 1000 }')},\"ts\":$((START + HOURS * 3600))}" \
    meters/EML2137580826/reported/accepted)
check_json "live report at a batch read's time is accepted" "$acc" '.version >= 1'
it_barrier > /dev/null

expected_day() { # day-index → expected total Wh over the circuit's meters
    awk -v a=$((START + $1 * 86400)) -v b=$((START + ($1 + 1) * 86400)) '
        $2 == a { lo[$1] = $3 } $2 == b { hi[$1] = $3 }
        END { for (s in hi) t += hi[s] - lo[s]; print t }' "$reads_file"
}
for d in 0 1 2 3 4 5 6; do
    day=$(date -u -d "@$((START + d * 86400))" +%F)
    want=$(expected_day "$d")
    got=$(it_sql "SELECT CAST(round(total_import_kwh * 1000000) AS INTEGER) || '|' || hh_count || '|' || complete FROM circuit_interval_daily WHERE circuit_id = '$CIRCUIT' AND day = '$day'")
    check_eq "day $day circuit total equals the register differences exactly" "$((want * 1000))|48|1" "$got"
done
check_eq "HH periods sum to the daily total" 0 \
    "$(it_sql "SELECT count(*) FROM circuit_interval_daily d WHERE circuit_id = '$CIRCUIT' AND round(d.total_import_kwh * 1000000) <> (SELECT round(sum(import_kwh) * 1000000) FROM circuit_interval_hh h WHERE h.circuit_id = d.circuit_id AND substr(h.timestamp, 1, 10) = d.day)")"
check_eq "every register period between the reads is actual and complete" "336|actual|1" \
    "$(it_sql "SELECT count(*), min(quality), min(complete) FROM register_interval_hh r JOIN meter_registers m ON m.register_id = r.register_id JOIN meter_registry x ON x.id = m.meter_id WHERE x.serial = 'EML2137580826' AND m.element = 'A'")"
check_eq "register intervals conserve energy exactly" "$(( $(awk '$1 == "EML2137580826" { if (!lo) lo = $3; hi = $3 } END { print hi - lo }' <(sort -k2n "$reads_file" | grep '^EML2137580826 ')) * 1000 ))" \
    "$(it_sql "SELECT CAST(round(sum(import_kwh) * 1000000) AS INTEGER) FROM register_interval_hh r JOIN meter_registers m ON m.register_id = r.register_id JOIN meter_registry x ON x.id = m.meter_id WHERE x.serial = 'EML2137580826' AND m.element = 'A'")"

# Published buckets: the last message for the first day carries the stored values.
day0=$(date -u -d "@$START" +%F)
sleep 3 # one debounce interval and more
last=$(grep "^circuits/$CIRCUIT/daily " "$IT_DIR/sub.log" | grep "\"day\":\"$day0\"" | tail -1 | cut -d' ' -f2-)
check_json "circuits/{id}/daily publishes the final total" "$last" \
    "((.total_import_kwh * 1000000) | round) == $(( $(expected_day 0) * 1000 )) and .complete == true and .hh_count == 48 and .revision >= 1"
hh=$(grep "^circuits/$CIRCUIT/hh " "$IT_DIR/sub.log" | tail -1 | cut -d' ' -f2-)
check_json "circuits/{id}/hh carries the SPEC's fields" "$hh" \
    'has("circuit") and has("start") and has("import_kwh") and has("export_kwh") and has("registers") and has("complete") and has("estimated") and has("revision")'
monthly=$(grep "^circuits/$CIRCUIT/monthly " "$IT_DIR/sub.log" | tail -1 | cut -d' ' -f2-)
check_json "circuits/{id}/monthly is published for the local month" "$monthly" '.month == "2026-11" and .complete == false'

# A late read between two held reads restates only the periods between its neighbours.
m=$(it_mark)
rev_before=$(it_sql "SELECT revision FROM circuit_interval_daily WHERE circuit_id = '$CIRCUIT' AND day = '$day0'")
mid=$((START + 1800))
lo=$(awk -v t="$START" '$1 == "EML2137580829" && $2 == t { print $3 }' "$reads_file")
acc=$(it_request meters/EML2137580829/reads "{\"reads\":[{\"ts\":$mid,\"import_a\":$(awk -v w="$lo" 'BEGIN { printf "%.3f", (w + 1) / 1000 }')}]}" meters/EML2137580829/reads/accepted)
check_json "a late read restates the two periods between its neighbours" "$acc" '.accepted == 1 and .restated_intervals == 2'
check_eq "the day's revision rises" 1 "$(( $(it_sql "SELECT revision FROM circuit_interval_daily WHERE circuit_id = '$CIRCUIT' AND day = '$day0'") > rev_before ))"
want=$(expected_day 0)
check_eq "the day total is unchanged by a restatement inside it" "$((want * 1000))" \
    "$(it_sql "SELECT CAST(round(total_import_kwh * 1000000) AS INTEGER) FROM circuit_interval_daily WHERE circuit_id = '$CIRCUIT' AND day = '$day0'")"

# Half-hours move by each register's difference and remember what they were folded from; a
# changed mapping makes the circuit's half-hours fold again from their registers when next touched.
check_eq "every circuit half-hour knows its mapped and complete registers" "0|3" \
    "$(it_sql "SELECT count(*) FILTER (WHERE mapped_registers IS NULL), max(mapped_registers) FROM circuit_hh WHERE circuit_id = '$CIRCUIT'")"
jq '(.circuits[] | select(.id == "'"$CIRCUIT"'") | .registers[0]) += {"end": "2030-01-01T00:00:00Z"}' \
    "$IT_ROOT/deploy/example-topology.json" > "$IT_DIR/topology-ended.json"
"$IT_ROOT/$BUILD/shadowctl" --db "$IT_DB" import "$IT_DIR/topology-ended.json" > /dev/null
check_eq "a changed mapping makes the circuit's half-hours fold again" 0 \
    "$(it_sql "SELECT count(*) FROM circuit_hh WHERE circuit_id = '$CIRCUIT' AND mapped_registers IS NOT NULL")"
it_finish
