#!/bin/sh
# make-passwords.sh — the broker's password file for the service, the operators, the mediators
# and the meters.
#
#   deploy/make-passwords.sh [-o PASSWORD-FILE] [-t TOPOLOGY.json] SECRETS-DIR [ACCOUNT...]
#
# SECRETS-DIR holds one file per account, named after it, whose first line is its password; it is
# the list of accounts. `shadowd`, `operator`, every ACCOUNT given (meter serials, mediator-…,
# more operators) and, with -t, every meter serial of a topology file (SPEC §7, needs jq) are
# added to it with a new random password (0600) unless they have one. Give each meter its own
# file's content; give shadowd its file as password_file. To remove an account, delete its file
# and run this again.
#
# Writes PASSWORD-FILE (default SECRETS-DIR/mosquitto.passwd) with salted hashes only
# (mosquitto_passwd), replacing it whole, and prints where both are. Install it as
# /etc/mosquitto/shadow.passwd, readable by the broker (root:mosquitto 0640), and reload the
# broker; keep SECRETS-DIR off the broker host.
set -eu

usage() {
    echo "usage: $0 [-o PASSWORD-FILE] [-t TOPOLOGY.json] SECRETS-DIR [ACCOUNT...]" >&2
    exit 2
}

out=
topology=
while getopts o:t: opt; do
    case $opt in
    o) out=$OPTARG ;;
    t) topology=$OPTARG ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
secrets=$1
shift
[ -n "$out" ] || out=$secrets/mosquitto.passwd

if ! command -v mosquitto_passwd > /dev/null 2>&1; then
    echo "$0: mosquitto_passwd is not installed (Debian: apt-get install mosquitto)" >&2
    exit 1
fi

# Secrets and the plain-text staging file must never be readable by others.
umask 077
mkdir -p "$secrets"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

{
    echo shadowd
    echo operator
    for a in "$@"; do echo "$a"; done
    if [ -n "$topology" ]; then
        command -v jq > /dev/null 2>&1 || { echo "$0: -t needs jq (Debian: apt-get install jq)" >&2; exit 1; }
        jq -r '.meters[]?.serial' "$topology"
    fi
    # Accounts made before. Other files (this script's own password file) have a dot in their
    # name, which no account name has.
    for f in "$secrets"/*; do
        [ -f "$f" ] || continue
        case ${f##*/} in *.*) ;; *) echo "${f##*/}" ;; esac
    done
} > "$tmp/names"

# A user name is used as a topic level by the ACL patterns (meters/%u/…) and as a file name
# here: the SPEC's serial alphabet keeps both safe.
bad=$(grep -v -x -E '[A-Za-z0-9_-]{1,64}' "$tmp/names" || true)
if [ -n "$bad" ]; then
    echo "$0: bad account names (1-64 of A-Z a-z 0-9 _ -):" >&2
    printf '  %s\n' "$bad" >&2
    exit 2
fi

new=0
sort -u "$tmp/names" > "$tmp/accounts"
while read -r name; do
    if [ ! -s "$secrets/$name" ]; then
        # 24 random bytes, base64 without the characters that trouble shells and URLs.
        head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' > "$secrets/$name"
        echo >> "$secrets/$name"
        new=$((new + 1))
    fi
    pw=$(head -n 1 "$secrets/$name")
    if [ -z "$pw" ]; then
        echo "$0: $secrets/$name: the first line is empty" >&2
        exit 1
    fi
    printf '%s:%s\n' "$name" "$pw" >> "$tmp/passwd"
done < "$tmp/accounts"

# Hash the plain file in place (-U): passwords never appear on a command line, where any local
# user could see them in the process list.
mosquitto_passwd -U "$tmp/passwd"
cp "$tmp/passwd" "$out.new"
mv "$out.new" "$out"
echo "$(wc -l < "$tmp/accounts") accounts ($new new passwords): secrets in $secrets/, password file $out"
