#!/usr/bin/env bash
# Everything CI checks (.ci/run runs this), stage by stage:
#   deps        scripts/install-deps.sh, plus clang-format and clang-tidy
#   build       Release, warnings as errors, in build/
#   test        ctest in build/
#   asan-build  Debug with AddressSanitizer and UBSan, in build-asan/
#   asan-test   ctest in build-asan/ (suites and example smoke runs), leak
#               checking on
#   install     tests/install/run.sh: installs build/ into a temporary
#               prefix and builds a consumer with find_package(ember) and
#               with pkg-config, shared and static
#   fuzz        the graph-file loader under libFuzzer for a bounded time
#   format      scripts/check-format.sh (clang-format)
#   tidy        scripts/check-format.sh --tidy build (clang-tidy)
# A failed stage does not stop the stages that do not need it. The summary
# at the end gives each stage's result and time; the exit status is 0 only
# when none failed. EMBER_JOBS sets parallel build and test jobs (default:
# the number of CPUs). Build folders are reused between runs.
#
# shellcheck disable=SC2317  # the stage functions are called through "$@"
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
jobs=${EMBER_JOBS:-$(nproc 2>/dev/null || echo 2)}
started=$SECONDS

names=()
declare -A result seconds

stage() {
    local name=$1 start=$SECONDS rc=0
    shift
    printf '\n==== %s\n' "$name"
    "$@" || rc=$?
    names+=("$name")
    seconds[$name]=$((SECONDS - start))
    if [[ $rc -eq 0 ]]; then
        result[$name]=passed
    else
        result[$name]="FAILED (exit $rc)"
    fi
    return "$rc"
}

skip() {
    names+=("$1")
    seconds[$1]=0
    result[$1]="skipped: $2"
    printf '\n==== %s skipped: %s\n' "$1" "$2"
}

summary() {
    local n failed=()
    local total=$((SECONDS - started))
    printf '\n==== summary (%dm%02ds, %s jobs)\n' $((total / 60)) \
        $((total % 60)) "$jobs"
    for n in "${names[@]}"; do
        printf '  %-11s %4ds  %s\n' "$n" "${seconds[$n]}" "${result[$n]}"
        [[ ${result[$n]} == FAILED* ]] && failed+=("$n")
    done
    if [[ ${#failed[@]} -gt 0 ]]; then
        echo "test.sh: FAILED in: ${failed[*]}"
        exit 1
    fi
    echo "test.sh: all stages passed"
    exit 0
}

build_release() {
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DEMBER_WERROR=ON &&
        cmake --build build -j "$jobs"
}

build_asan() {
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEMBER_SANITIZE=ON \
        -DEMBER_WERROR=ON &&
        cmake --build build-asan -j "$jobs"
}

run_ctest() {
    ctest --test-dir "$1" --output-on-failure --no-tests=error -j "$jobs" \
        --timeout 600 "${@:2}"
}

# The random-program suite of the JIT runs in the plain build only: its
# time goes into generated code, which the sanitizers do not instrument.
run_ctest_asan() {
    ASAN_OPTIONS=detect_leaks=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        run_ctest build-asan -E '^test_jit_fuzz$'
}

have() {
    command -v "$1" >/dev/null 2>&1
}

# Runs the graph-file loader's fuzz target for a bounded time (EMBER_FUZZ_SECONDS,
# default 60) on a corpus seeded with a real saved graph (tools/graph_demo).
run_fuzz() {
    CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug \
        -DEMBER_FUZZ=ON -DEMBER_BUILD_TESTS=OFF -DEMBER_BUILD_EXAMPLES=OFF \
        -DEMBER_WITH_CUDA=OFF -DEMBER_WERROR=OFF &&
        cmake --build build-fuzz -j "$jobs" --target fuzz_graph_load ||
        return 1
    mkdir -p build-fuzz/corpus build-fuzz/seed
    if [[ -x build/tools/graph_demo ]] &&
        build/tools/graph_demo build-fuzz/seed >/dev/null; then
        cp build-fuzz/seed/demo.emg build-fuzz/corpus/seed.emg
    fi
    # libFuzzer reports every new input; the log keeps them, the summary
    # (or, on a finding, the report) is what this prints.
    local rc=0
    ASAN_OPTIONS=detect_leaks=1 build-fuzz/fuzz_graph_load \
        -max_total_time="${EMBER_FUZZ_SECONDS:-60}" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 build-fuzz/corpus \
        >build-fuzz/fuzz.log 2>&1 || rc=$?
    if [[ $rc -eq 0 ]]; then
        tail -n 8 build-fuzz/fuzz.log
    else
        tail -n 80 build-fuzz/fuzz.log
    fi
    return "$rc"
}

if ! stage deps scripts/install-deps.sh clang-format clang-tidy clang \
    libclang-rt-14-dev; then
    summary
fi

if stage build build_release; then
    stage test run_ctest build
    stage install tests/install/run.sh build
else
    skip test "build failed"
    skip install "build failed"
fi

if stage asan-build build_asan; then
    stage asan-test run_ctest_asan
else
    skip asan-test "asan-build failed"
fi

if have clang; then
    stage fuzz run_fuzz
else
    skip fuzz "no clang"
fi

if have clang-format; then
    stage format scripts/check-format.sh
else
    skip format "no clang-format"
fi

if ! have clang-tidy || ! have run-clang-tidy; then
    skip tidy "no clang-tidy"
elif [[ ! -f build/compile_commands.json ]]; then
    skip tidy "build/ not configured"
else
    stage tidy scripts/check-format.sh --tidy build
fi

summary
