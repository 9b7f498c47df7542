#!/usr/bin/env bash
# shadowd/stats: published every stats_interval_s with cumulative counters.
. "$(dirname "$0")/lib.sh"
it_setup 'meters/#' 'shadowd/stats'
printf 'stats_interval_s = 1\nunknown_meters = provision\n' > "$IT_DIR/shadowd.conf"
it_start_shadowd -c "$IT_DIR/shadowd.conf"
it_request meters/S1/reported '{"state":{"balance":1}}' meters/S1/reported/accepted > /dev/null
it_request meters/S1/reported '{"state":' meters/S1/reported/rejected > /dev/null
it_request meters/S1/desired '{"state":{"x":1},"version":9}' meters/S1/desired/rejected > /dev/null
m=$(it_mark)
stats=$(it_next "$m" shadowd/stats)
check_json "stats are published with the SPEC's counters" "$stats" \
    '.received >= 3 and .accepted >= 1 and .rejected == 2 and .rejected_by_code["400"] == 1 and
     .rejected_by_code["409"] == 1 and has("commands_sent") and has("commands_confirmed") and
     has("commands_failed") and has("queue_depth") and .meters == 1 and (.uptime_s | type == "number")'
check_json "commit latency percentiles are reported" "$stats" \
    '.commit_latency_p50_us > 0 and .commit_latency_p99_us >= .commit_latency_p50_us'
next=$(it_next "$(it_mark)" shadowd/stats)
check_json "stats repeat every interval" "$next" '.received >= 3'
check_eq "the counters are kept in the database" 2 \
    "$(it_sql "SELECT value FROM service_stats WHERE name = 'rejected'")"
check_eq "nested counters are named parent.child" 1 \
    "$(it_sql "SELECT value FROM service_stats WHERE name = 'rejected_by_code.409'")"
it_finish
