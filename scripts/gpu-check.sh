#!/usr/bin/env bash
# Builds ember with CUDA (Release) and runs the GPU-only checks on a machine
# with an NVIDIA GPU: the CUDA test suites (which must not skip here), the
# full ctest run, an epoch of the Fashion-MNIST example traced on the GPU
# (when its data is installed) and the GPU benchmark (ember-bench mlp-step
# --device cuda: eager, traced and a hand-written cuBLAS step, with its
# targets), then prints a summary. Designed for < 5 minutes on a fresh H200
# machine.
#
#   scripts/gpu-check.sh [BUILD_DIR]   (default build-gpu-check)
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-gpu-check}
jobs=$(nproc 2>/dev/null || echo 4)
declare -a rows

row() { rows+=("$(printf '%-34s %s' "$1" "$2")"); }

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu-check: no GPU visible (nvidia-smi -L failed)" >&2
    exit 1
fi
nvidia-smi -L

start=$SECONDS
if cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
        -DEMBER_WITH_CUDA=ON >"$build.configure.log" 2>&1 &&
    cmake --build "$build" -j"$jobs" >"$build.build.log" 2>&1; then
    row "build (Release, CUDA, sm_90)" "ok ($((SECONDS - start)) s)"
else
    row "build (Release, CUDA, sm_90)" "FAILED (see $build.build.log)"
    printf '%s\n' "${rows[@]}"
    exit 1
fi

status=0
t=$SECONDS
if (cd "$build" && EMBER_REQUIRE_GPU=1 ctest --output-on-failure \
        -R 'test_cuda|test_device' >"$build.cuda-tests.log" 2>&1); then
    row "CUDA tests (must not skip)" "ok ($((SECONDS - t)) s)"
else
    row "CUDA tests (must not skip)" "FAILED (see $build.cuda-tests.log)"
    status=1
fi

t=$SECONDS
if (cd "$build" && ctest -j"$jobs" --output-on-failure \
        >"$build.all-tests.log" 2>&1); then
    row "all tests" "ok ($((SECONDS - t)) s)"
else
    row "all tests" "FAILED (see $build.all-tests.log)"
    status=1
fi

# The example end to end on the GPU, when the data set is installed.
data=/usr/share/datasets/fashion-mnist
if [[ -d $data ]]; then
    t=$SECONDS
    if "$build/examples/fashion_mnist_mlp" --device cuda --mode traced \
            --epochs 1 --data "$data" >"$build.example.log" 2>&1; then
        row "example --device cuda, traced" \
            "ok ($((SECONDS - t)) s, $(tail -n 1 "$build.example.log"))"
    else
        row "example --device cuda, traced" "FAILED (see $build.example.log)"
        status=1
    fi
else
    row "example --device cuda, traced" "skipped (no $data)"
fi

# The table goes to the log, the progress lines (and any disagreement
# between the modes) to a second one. The targets are printed, not failed.
t=$SECONDS
if "$build/benchmarks/ember-bench" mlp-step --device cuda --repeats 5 \
        >"$build.bench.log" 2>"$build.bench-progress.log"; then
    row "GPU benchmark (mlp-step, cuda)" "ok ($((SECONDS - t)) s)"
else
    row "GPU benchmark (mlp-step, cuda)" \
        "FAILED (see $build.bench-progress.log)"
    status=1
fi

echo
echo "== gpu-check summary ($((SECONDS - start)) s) =="
printf '%s\n' "${rows[@]}"
[[ -s $build.bench.log ]] && cat "$build.bench.log"
exit $status
