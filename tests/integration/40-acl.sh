#!/usr/bin/env bash
# 40-acl.sh — the hardened deployment (SPEC §11): a real mosquitto running deploy/mosquitto.conf
# (only ports, paths and the user changed), with a test PKI, password file and ACL made by the
# deploy/ scripts, and shadowd logging in over TLS with deploy/shadowd.conf. It shows that a meter
# publishes and reads only its own topics, only operators set desired state, only the service
# answers, a mediator acts for its own meters, nobody logs in anonymously or over plain TCP, and
# no account can take over the service's session.
#
# mosquitto drops an unauthorised publish from an MQTT 3.1.1 client without telling it, so every
# "cannot" below is checked as the absence of any effect (no answer, no change in SQLite) after
# a barrier request that shadowd answered, next to a positive control that had the effect.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

SHADOWCTL_BIN=${SHADOWCTL_BIN:-$IT_ROOT/$BUILD/shadowctl}
# The deploy/ directory under test: this tree's, or a copy (SHADOW_DEPLOY_DIR) to try a change.
DEPLOY=${SHADOW_DEPLOY_DIR:-$IT_ROOT/deploy}

# The test PKI needs openssl, the password file mosquitto_passwd, the ACL generator jq. Without
# them nothing here can run: say so, and count nothing as passed.
for tool in openssl:openssl mosquitto_passwd:mosquitto jq:jq; do
    if ! command -v "${tool%%:*}" > /dev/null 2>&1; then
        echo "# SKIP $IT_NAME: ${tool%%:*} is not installed (Debian package ${tool#*:}): the TLS and ACL tests did not run"
        echo "0 0" > "${IT_RESULTS:-/dev/null}"
        exit 0
    fi
done

A=ACLTESTA01 # the meter under test
B=ACLTESTB02 # another meter
IT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/shadow-it.XXXXXX")
IT_DB=$IT_DIR/shadow.db
BROKER=$IT_DIR/broker # stands for /etc/mosquitto, /var/lib/mosquitto, /var/log/mosquitto, /run/mosquitto
SECRETS=$IT_DIR/secrets
trap it_cleanup EXIT
mkdir -p "$BROKER"

# ---- The deployment, made by the deploy/ scripts ------------------------------------------------

cat > "$IT_DIR/topology.json" << JSON
{"escos": [{"code": "T", "name": "Test ESCO"}],
 "meters": [{"serial": "$A", "esco": "T", "mode": "active", "registers": [{"element": "SINGLE"}]},
            {"serial": "$B", "esco": "T", "mode": "active", "registers": [{"element": "SINGLE"}]}]}
JSON
# mediator-t polls meter A only.
printf '{"mediators": [{"name": "mediator-t", "meters": ["%s"]}]}\n' "$A" > "$IT_DIR/mediators.json"

sh "$DEPLOY/make-test-pki.sh" "$BROKER/certs" > /dev/null
# `monitor` is a second operator account: the recorder holds it while `operator` publishes (one
# connection per account, use_username_as_clientid).
sh "$DEPLOY/make-passwords.sh" -o "$BROKER/shadow.passwd" -t "$IT_DIR/topology.json" "$SECRETS" \
    mediator-t monitor > /dev/null
sh "$DEPLOY/make-acl.sh" -o monitor -m "$IT_DIR/mediators.json" -t "$IT_DIR/topology.json" \
    > "$BROKER/shadow.acl"

TLS_PORT=$(it_free_port) || { it_log "no free port"; exit 1; }
IT_PORT=$TLS_PORT
# Run as root, mosquitto would drop to the `mosquitto` user, who cannot read this private
# directory; `user root` keeps it as the user running the test (the option has no effect for
# anyone else).
sed -e "s#^listener 8883\$#listener $TLS_PORT 127.0.0.1#" \
    -e "s#/etc/mosquitto/#$BROKER/#g" -e "s#/var/lib/mosquitto/#$BROKER/#g" \
    -e "s#/var/log/mosquitto/#$BROKER/#g" -e "s#/run/mosquitto/#$BROKER/#g" \
    -e "s#^user mosquitto\$#user $(id -un)#" \
    "$DEPLOY/mosquitto.conf" > "$BROKER/mosquitto.conf"

# The settings of a config file without comments, one per line.
settings() {
    grep -v -E '^[[:space:]]*(#|$)' "$1"
}
changed=$(diff <(settings "$DEPLOY/mosquitto.conf") <(settings "$BROKER/mosquitto.conf") |
    sed -n 's/^[<>] \([^ ]*\).*/\1/p' | sort -u | tr '\n' ' ')
check_eq "the test broker is deploy/mosquitto.conf with only ports, paths and user changed" \
    "acl_file certfile keyfile listener log_dest password_file persistence_location pid_file user " \
    "$changed"
system_paths=$(settings "$BROKER/mosquitto.conf" | grep -E '(/etc|/var|/run)/' || true)
if [ -n "$system_paths" ]; then
    # Never start a test broker on the machine's own files.
    it_not_ok "the test broker uses no system path" "$system_paths"
    it_finish
    exit 1
fi
security=$(settings "$BROKER/mosquitto.conf" | grep -E '^(allow_anonymous|per_listener_settings|require_certificate|use_username_as_clientid|max_queued_messages|set_tcp_nodelay) ' |
    sort | paste -s -d'|')
check_eq "the production broker settings are in force" \
    "allow_anonymous false|max_queued_messages 0|per_listener_settings false|require_certificate false|set_tcp_nodelay true|use_username_as_clientid true" \
    "$security"

mosquitto -c "$BROKER/mosquitto.conf" >> "$IT_DIR/mosquitto.log" 2>&1 &
IT_BROKER_PID=$!
for _ in $(seq 1 50); do
    (exec 3<> "/dev/tcp/127.0.0.1/$TLS_PORT") 2> /dev/null && break
    sleep 0.1
done
# (A broker that did not start shows as shadowd never coming online, with the logs.)

# ---- Clients ----------------------------------------------------------------------------------

TLS=(--cafile "$BROKER/certs/ca.crt" -h 127.0.0.1 -p "$TLS_PORT")
pw() { head -n 1 "$SECRETS/$1"; }

# as USER TOPIC PAYLOAD [mosquitto_pub options…]: one QoS 1 publish over TLS, logged in as USER.
as() {
    local user=$1 topic=$2 payload=$3
    shift 3
    mosquitto_pub "${TLS[@]}" -u "$user" -P "$(pw "$user")" -q 1 -t "$topic" -m "$payload" "$@"
}

# Waits until shadowd has handled everything published before: an operator's get of meter A and
# its answer. The broker hands shadowd its messages in order, in one session.
barrier() {
    local mark token
    mark=$(it_mark)
    token="barrier-$RANDOM$RANDOM"
    as operator "meters/$A/get" "{\"clientToken\":\"$token\"}"
    for _ in $(seq 1 $((IT_TIMEOUT * 20))); do
        tail -n +"$((mark + 1))" "$IT_DIR/sub.log" |
            grep -q -E "^meters/$A/get/(accepted|rejected) .*\"clientToken\":\"$token\"" && return 0
        sleep 0.05
    done
    it_log "barrier: no answer from shadowd"
    return 1
}

# Recorded messages after MARK (requests or answers) holding TEXT.
count_text() {
    tail -n +"$(($1 + 1))" "$IT_DIR/sub.log" | grep -c -F -- "$2" || true
}

# doc SERIAL PATH…: values from a meter's stored shadow document (and its version and deleted
# flag: PATH `version`, `deleted`), joined by '|'.
doc() {
    local serial=$1 cols="" p
    shift
    for p in "$@"; do
        case $p in
        version | deleted) cols="$cols${cols:+, }$p" ;;
        *) cols="$cols${cols:+, }json_extract(document, '\$.$p')" ;;
        esac
    done
    it_sql "SELECT $cols FROM shadow_documents WHERE serial = '$serial'"
}

# ---- shadowd over TLS with the production config ------------------------------------------------

"$SHADOWCTL_BIN" --db "$IT_DB" import "$IT_DIR/topology.json" > /dev/null
"$IT_ROOT/$BUILD/shadowd" -c "$DEPLOY/shadowd.conf" --check-config > /dev/null 2>&1
check_eq "deploy/shadowd.conf passes --check-config" 0 $?

sed -e "s#/etc/shadowd/mqtt-password#$SECRETS/shadowd#" \
    -e "s#/etc/shadowd/ca.crt#$BROKER/certs/ca.crt#" \
    -e "s#/var/lib/shadowd/shadow.db#$IT_DB#" "$DEPLOY/shadowd.conf" > "$IT_DIR/shadowd.conf"
# shellcheck disable=SC2086
${SHADOWD_WRAPPER:-} "$SHADOWD_BIN" -c "$IT_DIR/shadowd.conf" \
    --broker "ssl://127.0.0.1:$TLS_PORT" --log-level debug >> "$IT_DIR/shadowd.log" 2>&1 &
IT_SHADOWD_PID=$!

# The recorder: operator rights (account `monitor`), everything under meters/ and shadowd/.
: > "$IT_DIR/sub.log"
mosquitto_sub "${TLS[@]}" -u monitor -P "$(pw monitor)" -q 1 -v -t 'meters/#' -t 'shadowd/#' \
    >> "$IT_DIR/sub.log" 2> "$IT_DIR/recorder.err" &
IT_RECORDER_PID=$!
status=$(it_next 0 shadowd/status) || true
check_json "shadowd logs in over TLS as shadowd and comes online" "$status" '.status == "online"'
if [ -z "$status" ]; then
    it_log "shadowd did not come online"
    cat "$IT_DIR/shadowd.log" "$IT_DIR/mosquitto.log" "$BROKER/mosquitto.log" >&2
    it_finish
    exit 1
fi

# ---- Who may connect ----------------------------------------------------------------------------

# refused OUTPUT STATUS: "1 1" when the client failed and said why.
refused() {
    echo "$([ "$2" -ne 0 ] && echo 1) $(printf '%s' "$1" | grep -c 'not authorised')"
}
out=$(mosquitto_pub "${TLS[@]}" -q 1 -t "meters/$A/reported" -m '{"state":{"balance":1}}' 2>&1)
check_eq "an anonymous connection is refused as not authorised" "1 1" "$(refused "$out" $?)"
out=$(mosquitto_pub "${TLS[@]}" -u "$A" -P wrong-password -q 1 -t "meters/$A/reported" \
    -m '{"state":{"balance":1}}' 2>&1)
check_eq "a wrong password is refused as not authorised" "1 1" "$(refused "$out" $?)"

mark=$(it_mark)
timeout 10 mosquitto_pub -h 127.0.0.1 -p "$TLS_PORT" -u "$A" -P "$(pw "$A")" -q 1 \
    -t "meters/$A/reported" -m '{"state":{"balance":2},"clientToken":"plain"}' > /dev/null 2>&1
rc=$?
barrier
check_eq "plain MQTT to the TLS port fails (exit status not 0, no message)" "1 0" \
    "$([ "$rc" -ne 0 ] && echo 1) $(count_text "$mark" '"clientToken":"plain"')"

# ---- A meter publishes its own reports only ---------------------------------------------------

mark=$(it_mark)
as "$A" "meters/$A/reported" '{"state":{"balance":10.5},"clientToken":"a-own"}'
ans=$(it_next "$mark" "meters/$A/reported/accepted") || true
check_json "meter A's own report is accepted" "$ans" '.clientToken == "a-own" and .version == 1'
check_eq "meter A's report is in its shadow" "10.5|1" "$(doc "$A" state.reported.balance version)"

as "$B" "meters/$B/reported" '{"state":{"balance":20},"clientToken":"b-own"}'
ans=$(it_next "$mark" "meters/$B/reported/accepted") || true
check_json "meter B's own report is accepted" "$ans" '.clientToken == "b-own"'

mark=$(it_mark)
as "$A" "meters/$B/reported" '{"state":{"balance":99},"clientToken":"a-forges-b"}'
v5=$(as "$A" "meters/$B/reported" '{"state":{"balance":98},"clientToken":"a-forges-b-5"}' -V 5 2>&1)
barrier
check_eq "meter A cannot report for meter B: nothing reaches B's topics" 0 \
    "$(count_text "$mark" a-forges-b)"
check_eq "meter A cannot report for meter B: B's shadow unchanged" "20|1" \
    "$(doc "$B" state.reported.balance version)"
check_eq "an MQTT 5 client is told its publish was not authorised" 1 \
    "$(printf '%s' "$v5" | grep -c 'Not authorized')"

mark=$(it_mark)
as "$A" "meters/$A/desired" '{"state":{"mode":"free"},"clientToken":"a-desired"}'
as "$A" "meters/$A/delete" '{"clientToken":"a-delete"}'
barrier
check_eq "meter A cannot set its own desired state or delete its shadow: no message, no answer" \
    "0 0" "$(count_text "$mark" a-desired) $(count_text "$mark" a-delete)"
check_eq "meter A cannot set desired state: its shadow is unchanged and not deleted" "|1|0" \
    "$(doc "$A" state.desired.mode version deleted)"

mark=$(it_mark)
as "$A" "meters/$A/reported/accepted" '{"forged":"a-forged-response"}'
as "$A" "meters/$B/commands" '{"id":"a-forged-command","command":"tariffs_future_write"}'
as "$A" "shadowd/status" '{"status":"offline","forged":"a-forged-status"}' -r
barrier
check_eq "meter A cannot publish responses, commands or service status" "0 0 0" \
    "$(count_text "$mark" a-forged-response) $(count_text "$mark" a-forged-command) $(count_text "$mark" a-forged-status)"

# ---- A meter reads only its own topics --------------------------------------------------------

# Meter A subscribes to B's topics and to everything while messages flow on B's topics and its
# own; it holds the one connection of account A meanwhile. -d prints the SUBACK (lines starting
# "Client " or "Subscribed"); messages are the lines starting with their topic.
timeout 60 mosquitto_sub "${TLS[@]}" -u "$A" -P "$(pw "$A")" -q 1 -v -d -t "meters/$B/#" -t '#' \
    > "$IT_DIR/a-sub.log" 2> "$IT_DIR/a-sub.err" &
a_sub=$!
for _ in $(seq 1 100); do
    grep -q 'received SUBACK' "$IT_DIR/a-sub.log" && break
    sleep 0.05
done
a_messages() {
    grep -v -E '^(Client |Subscribed )' "$IT_DIR/a-sub.log"
}

mark=$(it_mark)
as "$B" "meters/$B/reported" '{"state":{"balance":21},"clientToken":"b-again"}'
as operator "meters/$B/desired" '{"state":{"mode":"eco"},"clientToken":"op-b"}'
as operator "meters/$A/desired" '{"state":{"mode":"boost"},"clientToken":"op-a"}'
ans=$(it_next "$mark" "meters/$B/desired/accepted") || true
check_json "the operator sets meter B's desired state" "$ans" \
    '.clientToken == "op-b" and .state.desired.mode == "eco"'
check_eq "the operator's desired state is in B's shadow" eco "$(doc "$B" state.desired.mode)"
barrier
# A's own delta reaching A is the positive control: A's subscription works.
for _ in $(seq 1 100); do
    a_messages | grep -q "^meters/$A/delta " && break
    sleep 0.05
done
kill "$a_sub" 2> /dev/null
wait "$a_sub" 2> /dev/null
check_eq "meter A reads its own delta" 1 "$(a_messages | grep -c "^meters/$A/delta .*op-a")"
# B's report answer, the operator's desired answer, B's delta and documents: at least 4.
b_flow=$(tail -n +"$((mark + 1))" "$IT_DIR/sub.log" | grep -c "^meters/$B/")
check_eq "meter A, subscribed to meters/B/# and #, receives nothing of B while B's messages flow" \
    "0 flowing" \
    "$(a_messages | grep -c "^meters/$B/") $([ "$b_flow" -ge 4 ] && echo flowing || echo "only $b_flow")"
check_eq "meter A receives none of its documents, operator answers or service status" "" \
    "$(a_messages |
        grep -v -E "^meters/$A/(delta|commands|(reported|reads|commands/result)/(accepted|rejected)) ")"

# ---- Operators do not report; a mediator acts for its own meters ------------------------------

mark=$(it_mark)
as operator "meters/$B/reported" '{"state":{"balance":55},"clientToken":"op-reports"}'
barrier
check_eq "an operator cannot publish a meter's report" "0 21" \
    "$(count_text "$mark" op-reports) $(doc "$B" state.reported.balance)"

mark=$(it_mark)
as mediator-t "meters/$A/reported" '{"state":{"balance":11},"clientToken":"med-a"}'
ans=$(it_next "$mark" "meters/$A/reported/accepted") || true
check_json "a mediator reports for a meter it was given" "$ans" '.clientToken == "med-a"'
mark=$(it_mark)
as mediator-t "meters/$B/reported" '{"state":{"balance":77},"clientToken":"med-b"}'
barrier
check_eq "a mediator cannot report for a meter it was not given" "0 21" \
    "$(count_text "$mark" med-b) $(doc "$B" state.reported.balance)"

# ---- Nobody takes over the service's session --------------------------------------------------

connects=$(grep -c 'mqtt: connected' "$IT_DIR/shadowd.log")
mark=$(it_mark)
as "$A" "meters/$A/reported" '{"state":{"balance":12},"clientToken":"a-as-shadowd"}' -i shadowd
ans=$(it_next "$mark" "meters/$A/reported/accepted") || true
barrier
check_json "a meter connecting with client id shadowd is served as itself" "$ans" \
    '.clientToken == "a-as-shadowd"'
check_eq "and the service keeps its session: not taken over, not disconnected" \
    "0 0 $connects" \
    "$(grep -c 'already connected' "$BROKER/mosquitto.log") $(grep -c 'connection lost' "$IT_DIR/shadowd.log") $(grep -c 'mqtt: connected' "$IT_DIR/shadowd.log")"

it_finish
