#!/usr/bin/env bash
# Installs what building, testing and the demo need on Debian 12, skipping
# the packages already there; apt-get update runs only when one is missing.
#
#   scripts/install-deps.sh [--dry-run] [EXTRA_PACKAGE...]
#
# scripts/test.sh adds its own extras (clang-format, clang-tidy). Runs
# apt-get directly as root, through sudo otherwise. --dry-run only prints
# what would be installed. On a system without dpkg it lists the packages
# for you to install by other means and succeeds.
set -euo pipefail

packages=(gcc libc6-dev make cmake pkg-config check libsubunit-dev
    libopenblas-dev zlib1g-dev dataset-fashion-mnist llvm-19-dev)
dry_run=0
for arg in "$@"; do
    case $arg in
    --dry-run) dry_run=1 ;;
    -h | --help)
        sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"
        exit 0
        ;;
    -*)
        echo "install-deps: unknown option $arg" >&2
        exit 2
        ;;
    *) packages+=("$arg") ;;
    esac
done

if ! command -v dpkg >/dev/null 2>&1; then
    echo "install-deps: no dpkg here (not Debian?); make sure these, or" \
        "their equivalents, are installed: ${packages[*]}" >&2
    exit 0
fi

# Read whole first: grep -q quitting early would SIGPIPE dpkg under pipefail.
installed() {
    local status
    status=$(dpkg -s "$1" 2>/dev/null) || return 1
    grep -qx 'Status: install ok installed' <<<"$status"
}

missing=()
for p in "${packages[@]}"; do
    installed "$p" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi
if [[ $dry_run -eq 1 ]]; then
    echo "install-deps: would install ${missing[*]}"
    exit 0
fi
echo "install-deps: installing ${missing[*]}"

if [[ $(id -u) -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "install-deps: not root and no sudo; install them as root:" \
        "apt-get install ${missing[*]}" >&2
    exit 1
fi

# Quiet unless it fails; waits for a lock held by another apt for a while.
log=$(mktemp "${TMPDIR:-/tmp}/ember-install-deps.XXXXXX")
trap 'rm -f "$log"' EXIT
apt() {
    if ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get -q -y -o DPkg::Lock::Timeout=300 "$@" >"$log" 2>&1; then
        cat "$log" >&2
        echo "install-deps: apt-get $1 failed" >&2
        exit 1
    fi
}
apt update
apt install --no-install-recommends "${missing[@]}"

for p in "${missing[@]}"; do
    installed "$p" || {
        echo "install-deps: $p is still not installed" >&2
        exit 1
    }
done
echo "install-deps: done"
