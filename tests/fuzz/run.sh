#!/bin/sh
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each for a bounded time.
#
#   tests/fuzz/run.sh [target...]     targets: topics request shadow intervals (default: all)
#
#   FUZZ_SECONDS   seconds of fuzzing per target (default 60; 0: build and replay only)
#   FUZZ_CC        the compiler (default clang; it needs its libFuzzer runtime)
#   FUZZ_BUILD     where the binaries go (default build-fuzz)
#
# For each target: the committed regressions (tests/fuzz/regressions/<target>/) are replayed
# first, then the fuzzer runs on a scratch copy of the seed corpus (tests/fuzz/corpus/<target>/),
# so the committed corpus never grows. Any crash, leak, sanitizer report, timeout or failed
# property fails the run; the input that did it is kept under $FUZZ_BUILD/artifacts/<target>/
# (move it to regressions/<target>/ with the fix). One summary line per target.
# Exit status: 0 all clean, 1 a target failed, 2 no usable clang/libFuzzer.
set -eu

cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-60}
cc=${FUZZ_CC:-clang}
out=${FUZZ_BUILD:-build-fuzz}
here=tests/fuzz

CFLAGS="-std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
-fno-sanitize-recover=all -Wall -Wextra -Werror -pedantic -Iinclude \
-D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE"
LIBS="-lcjson -lm"

# The pure modules each target links: no store, no MQTT.
sources() {
    case $1 in
    topics) echo "src/topics.c src/request.c src/shadow.c src/isotime.c src/api_error.c" ;;
    request) echo "src/request.c src/shadow.c src/fields.c src/isotime.c src/intervals.c src/topics.c src/api_error.c" ;;
    shadow) echo "src/shadow.c src/request.c src/isotime.c src/api_error.c" ;;
    intervals) echo "src/intervals.c" ;;
    *) return 1 ;;
    esac
}

# libFuzzer options per target: longest input, slowest single input (s), memory (MB).
options() {
    case $1 in
    topics) echo "-max_len=640 -timeout=10 -rss_limit_mb=2048" ;;
    request) echo "-max_len=4096 -timeout=10 -rss_limit_mb=2048" ;;
    shadow) echo "-max_len=4096 -timeout=10 -rss_limit_mb=2048" ;;
    intervals) echo "-max_len=512 -timeout=10 -rss_limit_mb=2048" ;;
    esac
}

# Tokens that help the mutator build JSON and topics (written to the scratch directory).
write_dict() {
    cat > "$1" <<'EOF'
"{"
"}"
"["
"]"
":"
","
"\""
"null"
"true"
"false"
"-0"
"1e308"
"1e999"
"0.00001"
"\\u0000"
"\\ud83d\\ude00"
"\\u00e9"
"\xc3\xa9"
"\xef\xbf\xbf"
"\xf0\x9f\x98\x80"
"\"state\""
"\"desired\""
"\"reported\""
"\"delta\""
"\"metadata\""
"\"version\""
"\"timestamp\""
"\"clientToken\""
"\"ts\""
"\"reads\""
"\"status\""
"\"estimated\""
"\"import_a\""
"\"import_b\""
"\"export_a\""
"\"export_b\""
"\"balance\""
"\"emergency_credit\""
"\"csq\""
"\"voltage\""
"\"voltage_l1\""
"\"clock_time_diff_seconds\""
"\"health\""
"\"healthy\""
"\"unhealthy\""
"\"health_details\""
"\"tariffs_active\""
"\"tariffs_future\""
"\"standing_charge\""
"\"unit_rate_element_a\""
"\"unit_rate_element_b\""
"\"prepayment_ecredit_availability\""
"\"prepayment_debt_recovery_rate\""
"\"prepayment_emergency_credit\""
"\"activation_datetime\""
"\"events\""
"\"code\""
"\"text\""
"\"hardware\""
"\"firmware_version\""
"\"2026-11-28T08:30:00Z\""
"\"2026-11-28T08:30:00.5+01:00\""
"\"2027-01-01T00:00:00\""
"1795854600"
"meters/"
"/reported"
"/desired"
"/get"
"/delete"
"/reads"
"/commands/result"
"/accepted"
"/rejected"
"+"
"#"
"\xc2\x85"
"\xef\xb7\x90"
EOF
}

# A fuzzer can be built and linked at all?
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
    > "$probe/probe.c"
if ! command -v "$cc" > /dev/null 2>&1 ||
    ! "$cc" -fsanitize=fuzzer,address,undefined -o "$probe/probe" "$probe/probe.c" \
        > "$probe/log" 2>&1; then
    echo "fuzz: '$cc' cannot build a libFuzzer target (-fsanitize=fuzzer,address,undefined)." >&2
    sed 's/^/fuzz:   /' "$probe/log" >&2 2> /dev/null || true
    echo "fuzz: on Debian 12 install clang and its runtime: apt-get install clang libclang-rt-14-dev" >&2
    exit 2
fi

targets=${*:-topics request shadow intervals}
for t in $targets; do
    if ! sources "$t" > /dev/null; then
        echo "fuzz: unknown target '$t' (topics request shadow intervals)" >&2
        exit 2
    fi
done

mkdir -p "$out"
write_dict "$probe/dict"
failed=0
summary=""
for t in $targets; do
    bin=$out/fuzz_$t
    echo "== fuzz_$t: build"
    # shellcheck disable=SC2046,SC2086
    $cc $CFLAGS -o "$bin" "$here/fuzz_$t.c" $(sources "$t") $LIBS

    status=ok
    detail=""
    # 1. Every regression must pass, each replayed on its own so all failures are named; with
    #    FUZZ_SECONDS=0 the seed corpus is replayed too.
    nregs=0
    bad=""
    for f in $(find "$here/regressions/$t" -type f ! -name '.*' 2> /dev/null | sort); do
        nregs=$((nregs + 1))
        # shellcheck disable=SC2046
        if ! "$bin" $(options "$t") "$f" > "$probe/replay-$t.log" 2>&1; then
            echo "== fuzz_$t: regression $(basename "$f") fails:"
            grep -E 'ERROR|SUMMARY|check failed|runtime error|differs|changes' \
                "$probe/replay-$t.log" | head -n 10 || true
            bad="$bad $(basename "$f")"
        fi
    done
    [ "$nregs" -gt 0 ] && echo "== fuzz_$t: replayed $nregs regression(s)"
    if [ "$seconds" -eq 0 ] && [ -d "$here/corpus/$t" ]; then
        # shellcheck disable=SC2046
        if ! "$bin" $(options "$t") $(find "$here/corpus/$t" -type f ! -name '.*' | sort) \
            > "$probe/seeds-$t.log" 2>&1; then
            grep -E 'Running: |ERROR|SUMMARY|check failed|runtime error' "$probe/seeds-$t.log" |
                tail -n 10 || true
            bad="$bad (a seed)"
        fi
    fi
    if [ -n "$bad" ]; then
        status=FAIL
        detail="failing:$bad"
    fi

    # 2. Fuzzing from a scratch copy of the seed corpus.
    cov="-"
    if [ "$status" = ok ] && [ "$seconds" -gt 0 ]; then
        work=$probe/$t
        artifacts=$out/artifacts/$t
        mkdir -p "$work/corpus" "$artifacts"
        if [ -d "$here/corpus/$t" ]; then
            cp -R "$here/corpus/$t/." "$work/corpus/"
        fi
        echo "== fuzz_$t: fuzz for ${seconds}s"
        rc=0
        # shellcheck disable=SC2046
        "$bin" $(options "$t") -max_total_time="$seconds" -print_final_stats=1 \
            -dict="$probe/dict" -artifact_prefix="$artifacts/" "$work/corpus" \
            > "$work/log" 2>&1 || rc=$?
        last=$(grep -E '^#[0-9]+.*cov: ' "$work/log" | tail -n 1 || true)
        cov=$(printf '%s\n' "$last" | sed -n 's/.*\(cov: [0-9]*\) \(ft: [0-9]*\) \(corp: [^ ]*\).*/\1 \2 \3/p')
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
        [ -n "$execs" ] && cov="$cov execs: $execs"
        if [ "$rc" -ne 0 ]; then
            grep -E 'ERROR|SUMMARY|check failed|runtime error|Test unit written|differs|changes' \
                "$work/log" | head -n 20 || true
            tail -n 30 "$work/log"
            status=FAIL
            detail="exit $rc, input kept in $artifacts/"
        fi
    fi
    line=$(printf 'fuzz_%-10s %-4s regressions: %s  %s %s' "$t" "$status" "$nregs" "$cov" "$detail")
    summary="$summary$line
"
    [ "$status" = ok ] || failed=1
done

echo "== fuzz summary (${seconds}s per target)"
printf '%s' "$summary"
exit "$failed"
