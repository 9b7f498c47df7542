#!/bin/sh
# make-acl.sh — the broker's ACL file: deploy/mosquitto.acl plus extra operator accounts and one
# block per mediator, generated from the registry.
#
#   deploy/make-acl.sh [-b BASE.acl] [-r TOPIC-ROOT] [-o OPERATOR]... [-m MEDIATORS.json]
#                      [-t TOPOLOGY.json] > /etc/mosquitto/shadow.acl
#
#   -b   the ACL to start from (default: mosquitto.acl beside this script)
#   -r   shadowd's topic_root: every topic is prefixed with it ($SYS topics excepted)
#   -o   another operator account, with the rights of `operator` (repeatable)
#   -m   the mediators and the meters each one reports for:
#          {"mediators": [{"name": "mediator-wl", "sites": ["Water Lilies"]},
#                         {"name": "mediator-x", "escos": ["WLCE"], "meters": ["EML2137580826"]}]}
#        `meters` lists serials; `sites` and `escos` select the meters of a topology file:
#        a site's meters are those on the service heads of its properties (SPEC §7)
#   -t   the registry topology file (SPEC §7, as given to `shadowctl import`)
#
# Why generated: mosquitto patterns substitute a client's own user name (%u) only, so a mediator,
# whose name is not a serial, can be given its meters only by listing them under its `user` line.
# Each mediator gets, for each of its meters, what the meter itself may do (the `pattern` lines of
# the base file with the serial in place of %u). Regenerate and reload the broker
# (`systemctl reload mosquitto`) after a registry change.
#
# Refused (exit 1, nothing printed): an account name that is also a meter serial (the meter
# patterns would give that account the meter's rights), an account named twice (an operator or
# mediator called shadowd or operator), unknown sites or ESCOs, bad names. Needs jq for -m.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
usage() {
    echo "usage: $0 [-b BASE.acl] [-r TOPIC-ROOT] [-o OPERATOR]... [-m MEDIATORS.json] [-t TOPOLOGY.json]" >&2
    exit 2
}

# A user name is substituted as one topic level and the ACL parser splits on spaces: the SPEC's
# serial alphabet keeps every name safe in both.
valid_name() {
    printf '%s\n' "$1" | grep -q -x -E '[A-Za-z0-9_-]{1,64}'
}

base=$here/mosquitto.acl
root=
operators=
mediators=
topology=
while getopts b:r:o:m:t: opt; do
    case $opt in
    b) base=$OPTARG ;;
    r) root=$OPTARG ;;
    o)
        valid_name "$OPTARG" || { echo "$0: bad operator name '$OPTARG' (1-64 of A-Z a-z 0-9 _ -)" >&2; exit 2; }
        operators="$operators $OPTARG"
        ;;
    m) mediators=$OPTARG ;;
    t) topology=$OPTARG ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
[ -r "$base" ] || { echo "$0: cannot read $base" >&2; exit 1; }

case $root in
'' ) ;;
/* | */ | *//* | *[+#]* | \$* | *' '*)
    echo "$0: -r $root: no '+', '#' or spaces, no leading, trailing or double '/', not starting with '\$'" >&2
    exit 2 ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: > "$tmp/errors"

printf '%s\n' shadowd operator > "$tmp/accounts"
for o in $operators; do echo "$o"; done >> "$tmp/accounts"

# The mediators file, resolved against the topology, as lines the shell can read:
#   M name              a mediator
#   S name serial       one of its meters
#   T serial            a meter of the topology (for the name clash check)
#   E message           a problem
: > "$tmp/resolved"
if [ -n "$mediators" ] || [ -n "$topology" ]; then
    if ! command -v jq > /dev/null 2>&1; then
        echo "$0: -m and -t need jq (Debian: apt-get install jq)" >&2
        exit 1
    fi
    jq -n -r --slurpfile m "${mediators:-/dev/null}" --slurpfile t "${topology:-/dev/null}" \
        --arg tname "${topology:-}" '
        ($t[0] // {}) as $topo
        | ($m[0] // {"mediators": []}) as $med
        | [$topo.meters[]?.serial] as $serials
        | [$topo.escos[]?.code] as $escos
        | [$topo.sites[]?.name] as $sites
        | ($serials[] | "T \(.)"),
          ($med.mediators // [] | if type == "array" then .[] else error("mediators must be an array") end
           | .name as $n
           | if ($n | type) != "string" then "E a mediator without a string name" else
             "M \($n)",
             ((.meters // [])[] | "S \($n) \(.)"
                 + (if $tname != "" and (. as $s | $serials | index([$s]) | not)
                    then "\nE mediator \($n): meter \(.) is not in \($tname)" else "" end)),
             ((.escos // [])[] as $e
                 | if $tname == "" then "E mediator \($n): escos need a topology file (-t)"
                   elif ($escos | index([$e]) | not) then "E mediator \($n): unknown ESCO \($e)"
                   else ($topo.meters[]? | select(.esco == $e) | "S \($n) \(.serial)") end),
             ((.sites // [])[] as $s
                 | if $tname == "" then "E mediator \($n): sites need a topology file (-t)"
                   elif ($sites | index([$s]) | not) then "E mediator \($n): unknown site \($s)"
                   else ([$topo.properties[]? | select(.site == $s) | .service_heads[]?] as $heads
                         | $topo.meters[]? | select(.service_head as $h | $h != null and ($heads | index([$h])))
                         | "S \($n) \(.serial)") end) end)' > "$tmp/resolved" ||
        { echo "$0: cannot read ${mediators:-} ${topology:-}" >&2; exit 1; }
fi

grep '^E ' "$tmp/resolved" | cut -c3- >> "$tmp/errors" || true
grep '^M ' "$tmp/resolved" | cut -d' ' -f2- > "$tmp/mediators" || true
grep '^S ' "$tmp/resolved" | cut -d' ' -f2- | sort -u > "$tmp/pairs" || true
{ grep '^T ' "$tmp/resolved" | cut -d' ' -f2-; cut -d' ' -f2 "$tmp/pairs"; } | sort -u > "$tmp/serials"

while read -r name; do
    valid_name "$name" || echo "bad mediator name '$name' (1-64 of A-Z a-z 0-9 _ -)" >> "$tmp/errors"
    echo "$name" >> "$tmp/accounts"
    grep -q "^$name " "$tmp/pairs" || echo "warning: mediator $name has no meters" >&2
done < "$tmp/mediators"
# One account, one role: an operator or mediator named shadowd, operator or twice is refused.
sort "$tmp/accounts" | uniq -d | sed 's/^/account named twice: /' >> "$tmp/errors"
while read -r serial; do
    valid_name "$serial" || echo "bad meter serial '$serial'" >> "$tmp/errors"
done < "$tmp/serials"
sort -u "$tmp/accounts" > "$tmp/accounts.sorted"
comm -12 "$tmp/accounts.sorted" "$tmp/serials" |
    sed 's/^/account name is also a meter serial: /' >> "$tmp/errors"

if [ -s "$tmp/errors" ]; then
    echo "$0: refused:" >&2
    sed 's/^/  /' "$tmp/errors" >&2
    exit 1
fi

{
    echo "# Generated by deploy/make-acl.sh from $(basename "$base") — edit the source, not this file."
    cat "$base"
    for o in $operators; do
        echo
        echo "# Operator account $o: the rights of operator."
        echo "user $o"
        # The topic lines of the `user operator` block.
        awk '$1 == "user" { inside = ($2 == "operator"); next } inside && $1 == "topic"' "$base"
    done
    while read -r name; do
        echo
        echo "# Mediator $name: $(grep -c "^$name " "$tmp/pairs" || true) meters."
        echo "user $name"
        grep "^$name " "$tmp/pairs" | cut -d' ' -f2 | while read -r serial; do
            # What the meter itself may do: the base file's patterns, with its serial for %u.
            awk -v s="$serial" '$1 == "pattern" { $1 = "topic"; gsub(/%u/, s); print }' "$base"
        done
    done < "$tmp/mediators"
} > "$tmp/acl"

# The topic root goes in front of every topic; the broker's own $SYS tree has none.
awk -v root="$root" '
    root != "" && ($1 == "topic" || $1 == "pattern") && NF >= 2 {
        i = ($2 ~ /^(read|write|readwrite|deny)$/) ? 3 : 2
        if (i <= NF && substr($i, 1, 1) != "$") $i = root "/" $i
    }
    { print }' "$tmp/acl"
