#!/usr/bin/env bash
# Trains the Fashion-MNIST MLP example: installs what is missing, builds
# Release in build/ (the folder scripts/test.sh uses, so either reuses the
# other's work), and runs build/examples/fashion_mnist_mlp.
#
#   scripts/demo.sh [EXAMPLE_ARGS...]    e.g. scripts/demo.sh --help
#
# Arguments go to the example unchanged. EMBER_JOBS sets build jobs.
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
echo "demo: build/examples/$example $*"
exec "build/examples/$example" "$@"
