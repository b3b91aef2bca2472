#!/usr/bin/env bash
# Trains the Fashion-MNIST MLP example in both modes and compares them:
# installs what is missing, builds Release in build/ (the folder
# scripts/test.sh uses, so either reuses the other's work), runs
# build/examples/fashion_mnist_mlp with --mode eager and then --mode traced
# (same seed, same flags), and prints a table: seconds per epoch, test
# accuracy, speed-up of each mode against eager.
#
#   scripts/demo.sh [EXAMPLE_ARGS...]    e.g. scripts/demo.sh --epochs 5
#
# Arguments go to both runs unchanged; --help shows the example's options.
# The demo trains 10 epochs per mode unless told otherwise (--epochs N),
# enough for the 0.88 test accuracy the MLP is expected to reach: about a
# minute for both on two cores. EMBER_JOBS sets build jobs.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=${EMBER_JOBS:-$(nproc 2>/dev/null || echo 2)}
example=fashion_mnist_mlp

scripts/install-deps.sh
if ! grep -qw "$example" examples/CMakeLists.txt 2>/dev/null; then
    echo "demo: examples/CMakeLists.txt defines no $example target yet," \
        "so there is no demo to run" >&2
    exit 1
fi
if ! cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DEMBER_WERROR=ON \
    >/dev/null; then
    echo "demo: cmake could not configure build/ (see above)" >&2
    exit 1
fi
# Only the example and the library it needs, not the test suites.
if ! cmake --build build -j "$jobs" --target "$example"; then
    echo "demo: building $example failed (see above)" >&2
    exit 1
fi
if [[ ! -x build/examples/$example ]]; then
    echo "demo: build/examples/$example was not produced by the build" >&2
    exit 1
fi
bin=build/examples/$example
for arg in "$@"; do
    if [[ $arg == --help || $arg == -h ]]; then
        exec "$bin" "$@"
    fi
done

# The modes' final JSON lines, one per mode.
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for mode in eager traced; do
    echo "demo: $bin --epochs 10${*:+ $*} --mode $mode --json"
    # Later flags win, so the user's --epochs replaces the default 10 and the
    # demo's --mode and --json stay in force.
    if ! "$bin" --epochs 10 "$@" --mode "$mode" --json >"$results.run"; then
        cat "$results.run" >&2
        rm -f "$results.run"
        echo "demo: the $mode run failed (see above)" >&2
        exit 1
    fi
    # Show each epoch as it was reported, then keep the final line.
    awk -F'[{:,}]' '
        /"epoch":/ {
            for (i = 1; i < NF; i++) v[$i] = $(i + 1)
            printf "  %-6s epoch %2d  loss %.4f  train acc %.4f  " \
                   "test acc %.4f  %6.2f s\n", "'"$mode"'", v["\"epoch\""],
                   v["\"loss\""], v["\"train_accuracy\""],
                   v["\"test_accuracy\""], v["\"seconds\""]
        }' "$results.run"
    grep '"final":true' "$results.run" >>"$results"
    rm -f "$results.run"
done

echo
awk -F'[{:,}]' '
    {
        for (i = 1; i < NF; i++) v[$i] = $(i + 1)
        mode = v["\"mode\""]
        gsub(/"/, "", mode)
        n++
        name[n] = mode
        per_epoch[n] = v["\"seconds\""] / v["\"epochs\""]
        accuracy[n] = v["\"test_accuracy\""]
        if (mode == "eager")
            eager = per_epoch[n]
    }
    END {
        printf "%-7s | %17s | %13s | %17s\n", "mode", "seconds per epoch",
               "test accuracy", "speed-up vs eager"
        printf "%-7s-+-%17s-+-%13s-+-%17s\n", "-------",
               "-----------------", "-------------", "-----------------"
        for (i = 1; i <= n; i++)
            printf "%-7s | %17.2f | %13.4f | %16.2fx\n", name[i],
                   per_epoch[i], accuracy[i], eager / per_epoch[i]
    }' "$results"
