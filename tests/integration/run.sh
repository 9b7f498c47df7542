#!/usr/bin/env bash
# Runs every integration test (tests/integration/NN-*.sh), each against its own broker and
# shadowd, and prints the total as `N passed, N failed`.
set -u
here=$(cd "$(dirname "$0")" && pwd)
results=$(mktemp)
passed=0
failed=0
broken=0
for t in "$here"/[0-9][0-9]-*.sh; do
    [ -n "${1:-}" ] && [[ "$(basename "$t")" != *"$1"* ]] && continue
    echo "== $(basename "$t")"
    : > "$results"
    IT_RESULTS=$results bash "$t"
    rc=$?
    read -r p f < "$results" || { p=0; f=0; }
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
        echo "not ok - $(basename "$t") exited $rc"
        broken=$((broken + 1))
        failed=$((failed + 1))
    fi
done
rm -f "$results"
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
