#!/bin/sh
# make-test-pki.sh — a throwaway certificate authority for tests and trials of the TLS listener.
#
#   deploy/make-test-pki.sh [-n SERVER-NAME]... DIR [CLIENT-NAME...]
#
# Writes into DIR (created if missing):
#   ca.crt, ca.key                  the test CA (give ca.crt to clients: shadowd's tls_ca)
#   server.crt, server.key          the broker's certificate, for localhost, 127.0.0.1 and ::1
#                                   plus every -n name (a DNS name or an IP address)
#   client-NAME.crt, client-NAME.key one per CLIENT-NAME, for brokers that ask for client
#                                   certificates (shadowd's tls_cert and tls_key)
#
# These keys are for tests: they are made without a passphrase and live 30 days. A production
# broker uses certificates from the operator's own CA (see deploy/README.md). Never commit DIR.
set -eu

usage() {
    echo "usage: $0 [-n SERVER-NAME]... DIR [CLIENT-NAME...]" >&2
    exit 2
}

# Every name goes into the server certificate's subjectAltName, which is what TLS clients check
# (the common name is ignored by modern clients when a subjectAltName is present).
san="DNS:localhost,IP:127.0.0.1,IP:::1"
while getopts n: opt; do
    case $opt in
    n)
        case $OPTARG in
        *[!0-9.]*) case $OPTARG in
            *:*) san="$san,IP:$OPTARG" ;; # only IPv6 addresses contain a colon
            *) san="$san,DNS:$OPTARG" ;;
            esac ;;
        *) san="$san,IP:$OPTARG" ;;
        esac
        ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
dir=$1
shift

if ! command -v openssl > /dev/null 2>&1; then
    echo "$0: openssl is not installed (Debian: apt-get install openssl)" >&2
    exit 1
fi
for name in "$@"; do
    # A client name becomes a file name and a certificate subject: keep it to safe characters.
    case $name in
    '' | *[!A-Za-z0-9_-]*) echo "$0: bad client name '$name' (use A-Z a-z 0-9 _ -)" >&2; exit 2 ;;
    esac
done

# Private keys must never be readable by others, even for a moment.
umask 077
mkdir -p "$dir"
days=30
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# P-256 keys: quick to make, supported by every TLS stack the project uses (OpenSSL via
# mosquitto and Paho).
newkey() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2> /dev/null
}

newkey "$dir/ca.key"
openssl req -x509 -new -key "$dir/ca.key" -sha256 -days "$days" -subj "/CN=Flows Shadow test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/ca.crt"

# sign NAME EXTENSIONS: a key and a certificate signed by the test CA.
sign() {
    newkey "$dir/$1.key"
    openssl req -new -key "$dir/$1.key" -subj "/CN=$2" -out "$tmp/$1.csr"
    printf '%s\n' "$3" > "$tmp/$1.ext"
    openssl x509 -req -in "$tmp/$1.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
        -CAcreateserial -CAserial "$tmp/ca.srl" -sha256 -days "$days" \
        -extfile "$tmp/$1.ext" -out "$dir/$1.crt" 2> /dev/null
}

sign server localhost "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$san"

for name in "$@"; do
    sign "client-$name" "$name" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
done

# Certificates are public; the keys stay 0600 (umask above).
chmod 0644 "$dir"/*.crt
openssl verify -CAfile "$dir/ca.crt" "$dir"/*.crt > /dev/null
echo "test PKI written to $dir: ca.crt, server.crt/server.key (for $san)${1:+, client certificates for: $*}"
