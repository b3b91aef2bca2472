#!/usr/bin/env bash
# Runs the whole benchmark suite and collects the results: every
# ember-bench workload in every mode (eager, graph, jit, reference) at each
# BLAS thread count, plus the Fashion-MNIST example's time to accuracy
# eager, traced (one call per step, native code) and with the epoch in the
# graph, and PyTorch's numbers for the same work when torch is importable
# (benchmarks/torch_bench.py) and when libtorch, its C++ API, is installed
# (benchmarks/torch_bench.cpp, compiled here into BUILD/benchmarks/).
#
#   benchmarks/run.sh [--threads 1,2] [--repeats N] [--epochs N] [--out DIR]
#                     [--build DIR] [--no-build] [--quick] [--with-torch]
#                     [--install-gnuplot]
#
#   --threads N,...    threads of each run: OPENBLAS_NUM_THREADS,
#                      EMBER_NUM_THREADS and torch's (default 1,2)
#   --repeats N        timed loops per case, at least 5 (default 7;
#                      --quick: 5)
#   --epochs N         epochs of the time-to-accuracy runs (default 5;
#                      --quick: 1)
#   --out DIR          where results go (default BUILD/bench-results)
#   --build DIR        the build folder (default build/; configured as
#                      Release when it has no CMake cache yet)
#   --no-build         use the binaries already in the build folder
#   --quick            fewer repeats and one epoch: a few minutes in all
#   --with-torch       install Debian's python3-torch if torch is missing,
#                      libtorch-dev if libtorch is (and g++ if needed)
#   --install-gnuplot  install gnuplot-nox if gnuplot is missing
#
# Writes to DIR: results.csv, results.json (an array), results.md (a table
# per workload and the targets), summary.md (every median in one table),
# targets.csv, time_to_accuracy.csv, one SVG bar chart per workload
# (bench-WORKLOAD.svg) and time_to_accuracy.svg when gnuplot is there, and
# raw/ with each program's output. Exits 1 when a run failed (the others
# are still collected), 2 on a bad argument.
#
# LIBTORCH=DIR takes libtorch from an unpacked libtorch archive (DIR/include,
# DIR/lib) instead of Debian's libtorch-dev; CXX names the C++ compiler.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command_line="benchmarks/run.sh${*:+ $*}"
cd "$root"
jobs=${EMBER_JOBS:-$(nproc 2>/dev/null || echo 2)}

threads=1,2
repeats=
epochs=
out=
build=build
do_build=1
quick=0
with_torch=0
install_gnuplot=0

usage() {
    sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"
}
need_value() {
    if [[ $# -lt 2 || -z $2 ]]; then
        echo "run.sh: $1 needs a value" >&2
        exit 2
    fi
}
while [[ $# -gt 0 ]]; do
    case $1 in
    --threads) need_value "$@" && threads=$2 && shift ;;
    --repeats) need_value "$@" && repeats=$2 && shift ;;
    --epochs) need_value "$@" && epochs=$2 && shift ;;
    --out) need_value "$@" && out=$2 && shift ;;
    --build) need_value "$@" && build=$2 && shift ;;
    --no-build) do_build=0 ;;
    --quick) quick=1 ;;
    --with-torch) with_torch=1 ;;
    --install-gnuplot) install_gnuplot=1 ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        echo "run.sh: unknown argument $1 (--help lists the options)" >&2
        exit 2
        ;;
    esac
    shift
done
if [[ $quick == 1 ]]; then
    repeats=${repeats:-5}
    epochs=${epochs:-1}
fi
repeats=${repeats:-7}
epochs=${epochs:-5}
out=${out:-$build/bench-results}
for n in "$repeats" "$epochs"; do
    if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
        echo "run.sh: '$n' is not a positive count" >&2
        exit 2
    fi
done
if ((repeats < 5)); then
    echo "run.sh: --repeats $repeats: a median needs at least 5" >&2
    exit 2
fi
IFS=, read -r -a thread_list <<<"$threads"
for t in "${thread_list[@]}"; do
    if ! [[ $t =~ ^[1-9][0-9]*$ ]]; then
        echo "run.sh: --threads wants counts like 1,2, not '$threads'" >&2
        exit 2
    fi
done

say() { echo "run.sh: $*" >&2; }
as_root() {
    if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi
}
apt_install() {
    say "installing $1 with apt-get"
    as_root apt-get install -y "$1" >/dev/null ||
        { as_root apt-get update >/dev/null && as_root apt-get install -y "$1" >/dev/null; }
}

bench=$build/benchmarks/ember-bench
example=$build/examples/fashion_mnist_mlp
if [[ $do_build == 1 ]]; then
    scripts/install-deps.sh
    if [[ ! -f $build/CMakeCache.txt ]]; then
        cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DEMBER_WERROR=ON \
            >/dev/null
    fi
    cmake --build "$build" -j "$jobs" --target ember-bench fashion_mnist_mlp
fi
for bin in "$bench" "$example"; do
    if [[ ! -x $bin ]]; then
        say "$bin is missing (build it, or drop --no-build)"
        exit 1
    fi
done
cpu_model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' \
    "$build/CMakeCache.txt" 2>/dev/null || true)
notes=()
# One bullet of results.md; the words are joined with spaces.
note() { notes+=("$*"); }
if [[ $build_type != Release ]]; then
    note "$build is a '${build_type:-default}' build, not Release:" \
        "these timings are not representative."
    say "warning: ${notes[-1]}"
fi

# Python with torch: the PATH one, or Debian's (python3-torch's) one.
torch_python=
find_torch() {
    local py
    for py in python3 /usr/bin/python3; do
        if command -v "$py" >/dev/null 2>&1 &&
            "$py" -c 'import torch' >/dev/null 2>&1; then
            torch_python=$py
            return 0
        fi
    done
    return 1
}
if ! find_torch && [[ $with_torch == 1 ]]; then
    apt_install python3-torch || say "installing python3-torch failed"
    find_torch || true
fi
if [[ -z $torch_python ]]; then
    if [[ $with_torch == 1 ]]; then
        note "PyTorch rows skipped: torch could not be installed."
    else
        note "PyTorch rows skipped: torch is not installed" \
            "(benchmarks/run.sh --with-torch installs python3-torch)."
    fi
fi
# libtorch: Debian's libtorch-dev (headers under /usr/include, libraries in
# the multiarch folder), or the archive LIBTORCH names.
if [[ -n ${LIBTORCH:-} ]]; then
    torch_include=$LIBTORCH/include
    torch_libdir=$LIBTORCH/lib
else
    torch_include=/usr/include
    torch_libdir=/usr/lib/$(gcc -print-multiarch 2>/dev/null || true)
fi
torch_api_include=$torch_include/torch/csrc/api/include
find_libtorch() {
    [[ -f $torch_api_include/torch/torch.h &&
        -f $torch_libdir/libtorch_cpu.so ]]
}
if ! find_libtorch && [[ $with_torch == 1 && -z ${LIBTORCH:-} ]]; then
    apt_install libtorch-dev || say "installing libtorch-dev failed"
fi
cxx=${CXX:-c++}
if find_libtorch && ! command -v "$cxx" >/dev/null 2>&1 &&
    [[ $with_torch == 1 && -z ${CXX:-} ]]; then
    apt_install g++ || say "installing g++ failed"
fi
have_libtorch=0
if find_libtorch; then
    have_libtorch=1
elif [[ -n ${LIBTORCH:-} ]]; then
    note "libtorch rows skipped: LIBTORCH=$LIBTORCH holds no" \
        "include/torch/csrc/api/include/torch/torch.h and lib/libtorch_cpu.so."
elif [[ $with_torch == 1 ]]; then
    note "libtorch rows skipped: libtorch-dev could not be installed."
else
    note "libtorch rows skipped: libtorch is not installed" \
        "(benchmarks/run.sh --with-torch installs libtorch-dev)."
fi
if ! command -v gnuplot >/dev/null 2>&1 && [[ $install_gnuplot == 1 ]]; then
    apt_install gnuplot-nox || say "installing gnuplot-nox failed"
fi
have_gnuplot=0
command -v gnuplot >/dev/null 2>&1 && have_gnuplot=1

mkdir -p "$out/raw"
rm -f "$out"/*.svg

# benchmarks/torch_bench.cpp, compiled here rather than by CMake so that
# nothing else depends on libtorch; again only when the source or libtorch
# is newer than the binary (also with --no-build: CMake does not build it).
# About half a minute and 1 GB of memory. A failed compile skips its rows.
libtorch_bench=
if [[ $have_libtorch == 1 ]]; then
    bin=$build/benchmarks/libtorch-bench
    src=benchmarks/torch_bench.cpp
    cxx_flags=(-std=c++17 -O2 -isystem "$torch_api_include")
    # -isystem /usr/include would hide the C library's headers from
    # libstdc++'s #include_next.
    if [[ $torch_include != /usr/include ]]; then
        cxx_flags+=(-isystem "$torch_include")
    fi
    if [[ -x $bin && ! $src -nt $bin &&
        ! $torch_libdir/libtorch_cpu.so -nt $bin ]]; then
        libtorch_bench=$bin
    elif ! command -v "$cxx" >/dev/null 2>&1; then
        note "libtorch rows skipped: no C++ compiler ($cxx)."
    else
        say "compiling $bin"
        mkdir -p "$build/benchmarks"
        if "$cxx" "${cxx_flags[@]}" "$src" -o "$bin.tmp" -L"$torch_libdir" \
            -Wl,-rpath,"$torch_libdir" -ltorch -ltorch_cpu -lc10 \
            >"$out/raw/libtorch-bench.build.log" 2>&1; then
            mv -f "$bin.tmp" "$bin"
            libtorch_bench=$bin
        else
            rm -f "$bin.tmp" "$bin"
            say "compiling $src failed (see $out/raw/libtorch-bench.build.log)"
            note "libtorch rows skipped: compiling $src failed (see" \
                "raw/libtorch-bench.build.log)."
        fi
    fi
fi
status=0
start=$SECONDS

# Runs one program with $1 threads (OpenBLAS's, ember's own pool's,
# OpenMP's and so torch's), its stdout to $2; keeps going on failure but
# remembers it.
run_logged() {
    local t=$1 dest=$2
    shift 2
    say "[$t thread(s)] $*"
    if ! OPENBLAS_NUM_THREADS=$t EMBER_NUM_THREADS=$t OMP_NUM_THREADS=$t \
        "$@" >"$dest" \
        2>"$dest.err"; then
        say "failed: $* (see $dest.err)"
        tail -n 5 "$dest.err" >&2
        notes+=("Failed with $t thread(s): \`$*\` (see raw/$(basename "$dest.err")).")
        status=1
    fi
}

# Each result line gains "threads"; JSON lines only, progress dropped.
# ember-bench's target lines go to their own file.
results=$out/raw/results.jsonl
targets=$out/raw/targets.jsonl
tta=$out/raw/tta.jsonl
: >"$results"
: >"$targets"
: >"$tta"
tag() { grep '^{' "$2" | sed "s/^{/{\"threads\":$1,/" || true; }
for t in "${thread_list[@]}"; do
    run_logged "$t" "$out/raw/ember-$t.jsonl" \
        "$bench" --json --repeats "$repeats"
    tag "$t" "$out/raw/ember-$t.jsonl" | grep -v '"target":' >>"$results" ||
        true
    tag "$t" "$out/raw/ember-$t.jsonl" | grep '"target":' >>"$targets" ||
        true
    if [[ -n $torch_python ]]; then
        run_logged "$t" "$out/raw/torch-$t.jsonl" "$torch_python" \
            benchmarks/torch_bench.py --json --repeats "$repeats" \
            --threads "$t"
        tag "$t" "$out/raw/torch-$t.jsonl" >>"$results"
    fi
    if [[ -n $libtorch_bench ]]; then
        run_logged "$t" "$out/raw/libtorch-$t.jsonl" "$libtorch_bench" \
            --json --repeats "$repeats" --threads "$t"
        tag "$t" "$out/raw/libtorch-$t.jsonl" >>"$results"
    fi
    for mode in eager traced epoch-in-graph; do
        flags=(--mode "$mode")
        [[ $mode == epoch-in-graph ]] && flags=(--epoch-in-graph)
        run_logged "$t" "$out/raw/mlp-$mode-$t.jsonl" \
            "$example" --epochs "$epochs" "${flags[@]}" --json
        tag "$t" "$out/raw/mlp-$mode-$t.jsonl" >>"$tta"
    done
    if [[ -n $torch_python ]]; then
        run_logged "$t" "$out/raw/mlp-torch-$t.jsonl" "$torch_python" \
            benchmarks/torch_bench.py --time-to-accuracy --epochs "$epochs" \
            --threads "$t"
        tag "$t" "$out/raw/mlp-torch-$t.jsonl" >>"$tta"
    fi
    if [[ -n $libtorch_bench ]]; then
        run_logged "$t" "$out/raw/mlp-libtorch-$t.jsonl" "$libtorch_bench" \
            --time-to-accuracy --epochs "$epochs" --threads "$t"
        tag "$t" "$out/raw/mlp-libtorch-$t.jsonl" >>"$tta"
    fi
done

# Reads a flat JSON object's value by key (the values hold no quotes).
awk_json='
function jget(line, key,    at, s) {
    at = index(line, "\"" key "\":")
    if (!at)
        return ""
    s = substr(line, at + length(key) + 3)
    if (substr(s, 1, 1) == "\"") {
        s = substr(s, 2)
        return substr(s, 1, index(s, "\"") - 1)
    }
    match(s, /^[^,}]*/)
    return substr(s, 1, RSTART + RLENGTH - 1)
}'

# results.json: the array of every result line.
awk 'BEGIN { print "[" } NR > 1 { print prev "," } { prev = "  " $0 }
     END { if (NR) print prev; print "]" }' "$results" >"$out/results.json"

# results.csv and the rows of results.md, with each row's ratio to the
# baseline of its run (the rule ember-bench's table uses): the reference
# row of the same case for mlp-step and chain, the eager "per step" row for
# epoch, the eager add without a tape for add with one, and the eager row
# of the same case otherwise. Traced rows also say where their calls ran
# (tier: native or executor) and what compiling cost.
awk -v csv="$out/results.csv" -v rows="$out/raw/rows.tsv" "$awk_json"'
function csvq(s) { return "\"" s "\"" }
function base_mode(w) {
    return w == "mlp-step" || w == "chain" ? "reference" : "eager"
}
function base_case(w, c) {
    if (w == "epoch")
        return "per step"
    if (w == "add" && c ~ /\] tape$/) {
        sub(/ tape$/, " no tape", c)
        return c
    }
    return c
}
{
    n++
    for (k = 1; k <= 10; k++)
        f[n, k] = jget($0, key[k])
    t = f[n, 1]; w = f[n, 2]; m = f[n, 3]; c = f[n, 4]
    median[t, w, m, c] = f[n, 6]
}
BEGIN {
    split("threads workload mode case unit median min max tier compile_ms",
          key, " ")
    print "threads,workload,mode,case,unit,median,min,max,tier,compile_ms," \
          "baseline,ratio" >csv
}
END {
    for (i = 1; i <= n; i++) {
        t = f[i, 1]; w = f[i, 2]; m = f[i, 3]; c = f[i, 4]
        b = base_mode(w); bc = base_case(w, c)
        label = bc == c ? b : b " " bc
        ratio = ""
        if ((b != m || bc != c) && (t, w, b, bc) in median &&
            median[t, w, b, bc] > 0)
            ratio = sprintf("%.2f", f[i, 6] / median[t, w, b, bc])
        if (ratio == "")
            label = ""
        printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", t, w, m, csvq(c),
            f[i, 5], f[i, 6], f[i, 7], f[i, 8], f[i, 9], f[i, 10],
            csvq(label), ratio >csv
        printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", w, t, c,
            m, f[i, 5], f[i, 6], f[i, 7], f[i, 8], label, ratio, f[i, 9],
            f[i, 10] >rows
    }
}' "$results"

# summary.md: every median in one table, a column per mode.
awk -F'\t' -f benchmarks/summary.awk "$out/raw/rows.tsv" >"$out/summary.md"

# targets.csv: each target ember-bench checked, per thread count.
awk "$awk_json"'
BEGIN { print "threads,target,measured,unit,result" }
{
    printf "%s,\"%s\",%s,%s,%s\n", jget($0, "threads"), jget($0, "target"),
        jget($0, "measured"), jget($0, "unit"),
        jget($0, "pass") == "true" ? "PASS" : "MISS"
}' "$targets" >"$out/targets.csv"

# time_to_accuracy.csv: per epoch, the training seconds so far and the
# test accuracy then.
awk "$awk_json"'
BEGIN { print "threads,mode,epoch,seconds,test_accuracy" }
/"epoch":/ {
    t = jget($0, "threads"); m = jget($0, "mode")
    total[t, m] += jget($0, "seconds")
    printf "%s,%s,%s,%.3f,%s\n", t, m, jget($0, "epoch"), total[t, m],
        jget($0, "test_accuracy")
}' "$tta" >"$out/time_to_accuracy.csv"

# Charts: per workload, a .dat with one row per case (and thread count)
# and one column per mode, for benchmarks/plot.gp.
charts=()
if [[ $have_gnuplot == 1 ]]; then
    while read -r w; do
        dat=$out/raw/bench-$w.dat
        awk -F'\t' -v w="$w" -v nt="${#thread_list[@]}" '
            $1 != w { next }
            {
                row = nt > 1 ? $3 " (" $2 "t)" : $3
                if (!(row in r)) { r[row] = ++nr; rows[nr] = row }
                if (!($4 in mc)) { mc[$4] = ++nm; modes[nm] = $4 }
                v[row, $4] = $6
                unit = $5
            }
            END {
                printf "case"
                for (j = 1; j <= nm; j++) printf "\t%s", modes[j]
                printf "\n"
                for (i = 1; i <= nr; i++) {
                    printf "%s", rows[i]
                    for (j = 1; j <= nm; j++) {
                        cell = "-"
                        if ((rows[i], modes[j]) in v)
                            cell = v[rows[i], modes[j]]
                        printf "\t%s", cell
                    }
                    printf "\n"
                }
                print unit >(FILENAME ".unit")
            }' "$out/raw/rows.tsv" >"$dat"
        unit=$(cat "$out/raw/rows.tsv.unit")
        ncol=$(head -n 1 "$dat" | awk -F'\t' '{ print NF }')
        # Medians more than 10x apart would flatten the small bars: then
        # the y axis is logarithmic.
        logscale=$(awk -F'\t' 'NR > 1 { for (i = 2; i <= NF; i++)
                if ($i != "-") { v = $i + 0; if (!lo || v < lo) lo = v
                                 if (v > hi) hi = v } }
            END { print (lo > 0 && hi / lo > 10) ? 1 : 0 }' "$dat")
        if gnuplot -e "datafile='$dat'; outfile='$out/bench-$w.svg'" \
            -e "chart='bars'; heading='$w'; ncol=$ncol; logscale=$logscale" \
            -e "ylabel='$unit per iteration'" \
            benchmarks/plot.gp <&- 2>"$dat.err"; then
            charts+=("$w")
        else
            say "gnuplot failed on $w (see $dat.err)"
        fi
    done < <(cut -f1 "$out/raw/rows.tsv" | awk '!seen[$0]++')
    rm -f "$out/raw/rows.tsv.unit"
    series=$(awk -F, 'NR > 1 && !seen[$1 "," $2]++ { printf "%s ", $1 "," $2 }' \
        "$out/time_to_accuracy.csv")
    # A logarithmic seconds axis when the slowest run took more than 10x
    # the fastest one's first epoch.
    logscale=$(awk -F, 'NR > 1 { v = $4 + 0; if (!lo || v < lo) lo = v
                                 if (v > hi) hi = v }
        END { print (lo > 0 && hi / lo > 10) ? 1 : 0 }' \
        "$out/time_to_accuracy.csv")
    if [[ -n $series ]] &&
        gnuplot -e "datafile='$out/time_to_accuracy.csv'" \
            -e "outfile='$out/time_to_accuracy.svg'; chart='accuracy'" \
            -e "logscale=$logscale" \
            -e "series='$series'" \
            benchmarks/plot.gp 2>"$out/raw/tta.err"; then
        charts+=(time_to_accuracy)
    fi
else
    note "No charts: gnuplot is not installed" \
        "(benchmarks/run.sh --install-gnuplot installs gnuplot-nox)."
fi

# results.md
{
    echo "# ember benchmarks"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'): ${cpu_model:-$(uname -m)}," \
        "$(nproc 2>/dev/null || echo '?') cores, build type" \
        "${build_type:-unknown}, ${repeats} repeats per case, thread counts" \
        "(OPENBLAS_NUM_THREADS, EMBER_NUM_THREADS) ${threads}." \
        "Command: \`$command_line\`."
    echo
    echo "Times are per iteration: median, min and max over the repeats." \
        "The ratio is this row's median over the baseline's, from the same" \
        "run and thread count (below 1 is faster): the reference row of" \
        "the same case for mlp-step and chain, the eager \"per step\" row" \
        "for epoch, the eager add without a tape for add with one, the" \
        "eager row of the same case otherwise. Traced rows say where their" \
        "calls ran: native code (with its compile time) or the graph" \
        "executor."
    for note in "${notes[@]}"; do
        echo
        echo "- $note"
    done
    # Grouped by workload, then thread count, then case, so that every
    # mode of one case (PyTorch's included) sits together.
    awk -F'\t' '{
            if (!($1 in wo)) wo[$1] = ++nw
            if (!($2 in to)) to[$2] = ++nt
            if (!(($1, $3) in co)) co[$1, $3] = ++nc
            printf "%05d\t%05d\t%05d\t%05d\t%s\n", wo[$1], to[$2],
                co[$1, $3], NR, $0
        }' "$out/raw/rows.tsv" | sort | cut -f5- |
        awk -F'\t' -v charts=" ${charts[*]} " '
        $1 != w {
            w = $1
            printf "\n## %s (%s)\n\n", w, $5
            if (index(charts, " " w " "))
                printf "![%s](bench-%s.svg)\n\n", w, w
            print "| threads | case | mode | median | min | max | ratio | runs in |"
            print "|---:|---|---|---:|---:|---:|---:|---|"
        }
        {
            ratio = $10 == "" ? "" : $10 "x vs " $9
            where = $11 == "native" ? "native (" $12 " ms compile)" : $11
            printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $2, $3,
                $4, $6, $7, $8, ratio, where
        }'
    if [[ -s $targets ]]; then
        echo
        echo "## Targets"
        echo
        echo "Measured in this run, never asserted by a test."
        echo
        echo "| threads | target | measured | result |"
        echo "|---:|---|---:|---|"
        awk -F, 'NR > 1 {
                gsub(/"/, "", $2)
                printf "| %s | %s | %s%s | %s |\n", $1, $2, $3, $4, $5
            }' "$out/targets.csv"
    fi
    echo
    echo "## Time to accuracy (Fashion-MNIST MLP, epochs: $epochs)"
    echo
    if [[ " ${charts[*]} " == *" time_to_accuracy "* ]]; then
        echo "![time to accuracy](time_to_accuracy.svg)"
        echo
    fi
    echo "Training seconds (evaluation excluded) and test accuracy after" \
        "the last epoch; every epoch is in time_to_accuracy.csv."
    echo
    echo "| threads | mode | epochs | seconds | test accuracy |"
    echo "|---:|---|---:|---:|---:|"
    awk -F, 'NR > 1 { last[$1 "," $2] = $0; if (!seen[$1 "," $2]++) o[++n] = $1 "," $2 }
        END {
            for (i = 1; i <= n; i++) {
                split(last[o[i]], v, ",")
                printf "| %s | %s | %s | %s | %.4f |\n", v[1], v[2], v[3],
                    v[4], v[5]
            }
        }' "$out/time_to_accuracy.csv"
} >"$out/results.md"

say "done in $((SECONDS - start)) s: $out/results.md, results.csv," \
    "results.json, time_to_accuracy.csv${charts[*]:+, charts}"
exit "$status"
