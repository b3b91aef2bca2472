#!/usr/bin/env bash
# Compiles the C snippets of README.md into one program and runs it, so that
# the code a reader copies keeps compiling (with -Wall -Wextra -Werror),
# trains, and leaves no live tensor. The eager loop runs one epoch.
#   tests/readme_snippets.sh README.md INCLUDE_DIR LIBRARY_DIR WORK_DIR
# Exits 77 (skipped) when the Fashion-MNIST data is not installed.
set -euo pipefail
readme=$1 include=$2 libdir=$3 work=$4
data=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [[ ! -f $data ]]; then
    echo "skipped: no Fashion-MNIST data ($data)"
    exit 77
fi
mkdir -p "$work"

# Block N (0-based) of the ```c fences.
block() {
    awk -v want="$1" '
        /^```c$/ { inside = 1; n++; next }
        /^```$/  { inside = 0; next }
        inside && n - 1 == want { print }' "$readme"
}

eager=$(block 1 | grep -v '^#include <ember.h>' |
    sed 's/epoch < 10; epoch++/epoch < 1; epoch++/')
traced=$(block 2)
defs=${traced%%static const em_input_spec signature*}
calls=${traced#"$defs"}
checkpoint=$(block 3 | sed "s|\"mlp.ckpt\"|\"$work/mlp.ckpt\"|g")

{
    echo '#include <stdio.h>'
    echo '#include <ember.h>'
    printf '%s\n' "$defs"
    echo 'int main(void)'
    echo '{'
    printf '%s\n' "$eager"
    printf '{\n%s\n}\n' "$calls"
    printf '{\n%s\n}\n' "$checkpoint"
    cat <<'C'
    em_batch_iter_free(batches);
    em_optimizer_free(opt);
    for (int i = 0; i < 4; i++)
        em_tensor_free(params[i]);
    em_tensor_free(images);
    em_tensor_free(labels);
    em_rng_free(rng);
    if (em_error_pending()) {
        fprintf(stderr, "error: %s\n", em_error_last());
        return 1;
    }
    em_memory_stats stats = em_memory_get_stats();
    printf("live tensors at the end: %lld\n", (long long)stats.live_tensors);
    return stats.live_tensors == 0 ? 0 : 1;
}
C
} >"$work/readme.c"

${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -I"$include" "$work/readme.c" \
    -L"$libdir" -lember -Wl,-rpath,"$libdir" -lm -o "$work/readme"
"$work/readme"
