#!/usr/bin/env bash
# Installs a built ember into a temporary prefix and builds tests/install
# against it four ways: find_package(ember) with ember::ember and
# ember::ember_static, and pkg-config + cc, shared and static. Each program
# must run, the static ones must not need libember.so, and all four must
# print the same lines.
#
#   tests/install/run.sh BUILD_DIR
#
# Leaves its temporary folder behind when it fails, and says where.
set -euo pipefail

if [[ $# -ne 1 || ! -f $1/CMakeCache.txt ]]; then
    echo "usage: $0 BUILD_DIR (a configured and built ember tree)" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
jobs=${EMBER_JOBS:-$(nproc 2>/dev/null || echo 2)}
cc=${CC:-cc}

work=$(mktemp -d "${TMPDIR:-/tmp}/ember-install-test.XXXXXX")
ok=0
cleanup() {
    if [[ $ok -eq 1 ]]; then
        rm -rf "$work"
    else
        echo "install test: FAILED; files kept in $work" >&2
    fi
}
trap cleanup EXIT

fail() {
    echo "install test: $*" >&2
    exit 1
}
step() {
    echo "-- $*"
}

prefix=$work/prefix
cache_value() {
    sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"
}
libdir=$(cache_value CMAKE_INSTALL_LIBDIR)
includedir=$(cache_value CMAKE_INSTALL_INCLUDEDIR)
[[ $libdir == /* ]] || libdir=$prefix/$libdir
[[ $includedir == /* ]] || includedir=$prefix/$includedir
version=$(sed -n 's/^#define EMBER_VERSION "\(.*\)"$/\1/p' \
    "$root/include/ember.h")
[[ -n $version ]] || fail "no EMBER_VERSION in include/ember.h"

step "cmake --install into $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" ||
    { cat "$work/install.log" >&2; fail "cmake --install failed"; }

step "installed files"
soname=$(readelf -d "$libdir/libember.so" |
    sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
for f in "$libdir/libember.so.$version" "$libdir/$soname" \
    "$libdir/libember.so" "$libdir/libember.a" "$includedir/ember.h" \
    "$libdir/pkgconfig/ember.pc" "$libdir/cmake/ember/emberConfig.cmake" \
    "$libdir/cmake/ember/emberConfigVersion.cmake" \
    "$libdir/cmake/ember/emberTargets.cmake"; do
    [[ -e $f ]] || fail "missing $f"
done
[[ -L $libdir/libember.so && -L $libdir/$soname ]] ||
    fail "libember.so and $soname should be links to the versioned file"
for h in "$root"/include/ember/*.h; do
    cmp -s "$h" "$includedir/ember/${h##*/}" ||
        fail "include/ember/${h##*/} not installed"
done

step "find_package(ember) with ember::ember and ember::ember_static"
if ! cmake -S "$here" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_TYPE=Release >"$work/cmake.log" 2>&1 ||
    ! cmake --build "$work/cmake" -j "$jobs" >>"$work/cmake.log" 2>&1; then
    cat "$work/cmake.log" >&2
    fail "CMake consumer did not build"
fi
cp "$work/cmake/consumer_shared" "$work/cmake_shared"
cp "$work/cmake/consumer_static" "$work/cmake_static"

step "find_package(ember 99) must refuse this version"
if cmake -S "$here" -B "$work/cmake99" -DCMAKE_PREFIX_PATH="$prefix" \
    -DEMBER_CONSUMER_VERSION=99 >"$work/cmake99.log" 2>&1; then
    fail "find_package(ember 99) accepted version $version"
fi

step "pkg-config + $cc"
export PKG_CONFIG_PATH=$libdir/pkgconfig
got=$(pkg-config --modversion ember) || fail "pkg-config cannot read ember.pc"
[[ $got == "$version" ]] || fail "ember.pc says $got, ember.h says $version"
pc_libdir=$(pkg-config --variable=libdir ember)
[[ $pc_libdir -ef $libdir ]] || fail "ember.pc libdir $pc_libdir != $libdir"
read -ra cflags <<<"$(pkg-config --cflags ember)"
read -ra libs <<<"$(pkg-config --libs ember)"
read -ra static_libs <<<"$(pkg-config --static --libs ember)"
# -l:libember.a picks the archive although libember.so sits beside it.
static_libs=("${static_libs[@]/#-lember/-l:libember.a}")
common=(-std=c11 -Wall -Wextra -Wpedantic -Werror)
"$cc" "${common[@]}" "${cflags[@]}" -o "$work/pc_shared" \
    "$here/consumer.c" "${libs[@]}" -Wl,-rpath,"$pc_libdir" ||
    fail "pkg-config shared link failed: ${libs[*]}"
"$cc" "${common[@]}" "${cflags[@]}" -o "$work/pc_static" \
    "$here/consumer.c" "${static_libs[@]}" ||
    fail "pkg-config static link failed: ${static_libs[*]}"

step "run the four programs"
for v in cmake_shared cmake_static pc_shared pc_static; do
    needs=$(readelf -d "$work/$v" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    case $v in
    *_static) ! grep -q '^libember' <<<"$needs" ||
        fail "$v should not need a shared libember: ${needs//$'\n'/ }" ;;
    *) grep -q "^$soname\$" <<<"$needs" ||
        fail "$v does not link $soname: ${needs//$'\n'/ }" ;;
    esac
    "$work/$v" >"$work/$v.out" || {
        cat "$work/$v.out"
        fail "$v failed"
    }
done
for v in cmake_static pc_shared pc_static; do
    diff -u "$work/cmake_shared.out" "$work/$v.out" >&2 ||
        fail "$v printed something else than cmake_shared"
done
sed 's/^/   /' "$work/cmake_shared.out"

step "DESTDIR staging keeps ember.pc's prefix"
DESTDIR=$work/stage cmake --install "$build" --prefix /opt/ember \
    >"$work/stage.log"
pc=$(find "$work/stage" -name ember.pc)
[[ -n $pc ]] || fail "no ember.pc under DESTDIR"
grep -qx 'prefix=/opt/ember' "$pc" || fail "$pc: $(grep '^prefix' "$pc")"

ok=1
echo "install test: passed"
