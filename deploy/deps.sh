#!/bin/sh
# Installs the Debian 12 packages Flows Shadow needs to build, run and test.
#   deploy/deps.sh          build and run (compiler, libraries, broker)
#   deploy/deps.sh test     plus the test tools (Check, jq, sqlite3, valgrind, linters)
# As root it installs what is missing; otherwise it prints the exact command and fails.
set -eu

RUN_PKGS="gcc make libc6-dev pkg-config libpaho-mqtt-dev libcjson-dev libsqlite3-dev \
mosquitto mosquitto-clients sqlite3 tzdata"
TEST_PKGS="check libsubunit-dev jq valgrind clang-format cppcheck openssl clang libclang-rt-14-dev"

pkgs=$RUN_PKGS
[ "${1:-}" = test ] && pkgs="$RUN_PKGS $TEST_PKGS"

missing=""
for p in $pkgs; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "Missing packages:$missing" >&2
    echo "Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "Installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
