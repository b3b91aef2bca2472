#!/usr/bin/env bash
# Style checks for the C sources and headers of the repository.
#
#   scripts/check-format.sh              clang-format check (.clang-format):
#                                        lists what differs, fails if any
#   scripts/check-format.sh --fix        reformats those files in place
#   scripts/check-format.sh --tidy [DIR] clang-tidy (.clang-tidy) over every
#                                        file of DIR's compile_commands.json
#                                        inside the repository (default
#                                        build/); any finding fails
#
# clang-tidy by hand: configure any build folder (CMake always writes
# compile_commands.json), then either the --tidy form above or
#   run-clang-tidy -p build -quiet -j 2 "^$PWD/eager/"   # a folder
#   clang-tidy -p build eager/dispatch.c                  # one file
# The checks and why some are off are in .clang-tidy; silence a single
# false positive with `/* NOLINT(check-name): reason */` on its line.
#
# CLANG_FORMAT and CLANG_TIDY name other binaries; EMBER_JOBS sets the
# parallel clang-tidy runs (default: number of CPUs).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
clang_format=${CLANG_FORMAT:-clang-format}
clang_tidy=${CLANG_TIDY:-clang-tidy}
jobs=${EMBER_JOBS:-$(nproc 2>/dev/null || echo 2)}

need() {
    command -v "$1" >/dev/null 2>&1 || {
        echo "check-format: $1 not found (apt-get install $2)" >&2
        exit 2
    }
}

# Tracked and new files, minus what .gitignore drops (build folders).
sources() {
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git ls-files -z --cached --others --exclude-standard -- '*.c' '*.h'
    else
        find . -path './build*' -prune -o -path './.git' -prune -o \
            -type f \( -name '*.c' -o -name '*.h' \) -printf '%P\0'
    fi
}

format_check() {
    need "$clang_format" clang-format
    local files=() bad=() f
    while IFS= read -r -d '' f; do
        [[ -f $f ]] && files+=("$f")
    done < <(sources)
    for f in "${files[@]}"; do
        "$clang_format" --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
    done
    if [[ ${#bad[@]} -eq 0 ]]; then
        echo "check-format: ${#files[@]} files formatted" \
            "($("$clang_format" --version | grep -o 'version [0-9.]*'))"
        return 0
    fi
    if [[ ${1:-} == fix ]]; then
        "$clang_format" -i "${bad[@]}"
        printf 'check-format: reformatted %s\n' "${bad[@]}"
        return 0
    fi
    for f in "${bad[@]}"; do
        echo "check-format: $f differs from .clang-format:"
        { "$clang_format" "$f" | diff -u "$f" - | head -n 40; } || true
    done
    echo "check-format: ${#bad[@]} of ${#files[@]} files need" \
        "'scripts/check-format.sh --fix':"
    printf '  %s\n' "${bad[@]}"
    return 1
}

tidy_check() {
    local build=${1:-build}
    need "$clang_tidy" clang-tidy
    need run-clang-tidy clang-tidy
    if [[ ! -f $build/compile_commands.json ]]; then
        echo "check-format: no $build/compile_commands.json; configure" \
            "first: cmake -S . -B $build" >&2
        return 2
    fi
    # C files of the repository only, not generated ones in build folders
    # nor CUDA sources (clang-tidy would need the CUDA headers' versions
    # to match its own; nvcc's warnings cover them). Asserts stay on (-UNDEBUG) so the analyser knows what they rule out;
    # GCC-only warning flags in the compile commands must not stop clang.
    local log status=0
    log=$(mktemp "${TMPDIR:-/tmp}/ember-tidy.XXXXXX")
    run-clang-tidy -clang-tidy-binary "$(command -v "$clang_tidy")" \
        -p "$build" -quiet -j "$jobs" -extra-arg=-UNDEBUG \
        -extra-arg=-Wno-unknown-warning-option \
        "^$root/(?!build).*\.c$" >"$log" 2>&1 || status=$?
    # Keep the findings; drop colours, per-file tallies and command lines.
    sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -v -e 'warnings\? generated\.$' \
        -e '^Suppressed [0-9]* warnings' -e '^Use -header-filter=' \
        -e "^[^ ]*clang-tidy[^ ]* .* -p=" || true
    rm -f "$log"
    if [[ $status -ne 0 ]]; then
        echo "check-format: clang-tidy found problems (see above)"
        return 1
    fi
    echo "check-format: clang-tidy clean" \
        "($(grep -c '"file"' "$build/compile_commands.json") files in" \
        "$build/compile_commands.json)"
}

case ${1:-} in
"") format_check ;;
--fix) format_check fix ;;
--tidy) tidy_check "${2:-build}" ;;
-h | --help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0" ;;
*)
    echo "usage: $0 [--fix | --tidy [BUILD_DIR]]" >&2
    exit 2
    ;;
esac
