#!/usr/bin/env bash
# Trains and exports the classifier, builds classify.c against the exported
# object with the system's C compiler alone, runs it, and checks that both
# programs agree on the test accuracy (within 5 of 10,000 images: the
# exported matrix products add in another order than BLAS).
#
#   examples/deploy/run.sh BUILD_DIR [EPOCHS]
#
# Exits 77 (skipped) when the Fashion-MNIST data set is not installed.
set -euo pipefail

build=$(cd "${1:?usage: run.sh BUILD_DIR [EPOCHS]}" && pwd)
epochs=${2:-3}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/ember-deploy.XXXXXX")
trap 'rm -rf "$out"' EXIT

set +e
"$build/examples/deploy/train_and_export" --out "$out" --epochs "$epochs" |
    tee "$out/train.log"
status=${PIPESTATUS[0]}
set -e
[[ $status -eq 77 ]] && { echo "deploy: skipped, no Fashion-MNIST data"; exit 77; }
[[ $status -eq 0 ]] || exit "$status"

${CC:-cc} -O2 -std=c11 -I "$out" "$here/classify.c" "$out/classifier.o" \
    -lm -o "$out/classify"
"$out/classify" "$out" | tee "$out/classify.log"

trained=$(sed -n 's/^ember test accuracy: .*(\([0-9]*\) of.*/\1/p' "$out/train.log")
deployed=$(sed -n 's/^deployed test accuracy: .*(\([0-9]*\) of.*/\1/p' "$out/classify.log")
diff=$((trained > deployed ? trained - deployed : deployed - trained))
if [[ $diff -gt 5 ]]; then
    echo "deploy: ember got $trained right, the deployed program $deployed" >&2
    exit 1
fi
echo "deploy: the deployed classifier agrees with ember ($deployed vs $trained correct)"
