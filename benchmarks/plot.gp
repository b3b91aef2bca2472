# Charts for benchmarks/run.sh, as SVG. Variables set with gnuplot -e:
#
#   chart='bars'      datafile: tab-separated, a header row "case MODE...",
#                     then one row per case, one median per mode ('-' where
#                     a mode has no such case); heading, ylabel, ncol (the
#                     number of columns), logscale (1: logarithmic y axis)
#   chart='accuracy'  datafile: time_to_accuracy.csv (threads, mode, epoch,
#                     cumulative seconds, test accuracy); series, the
#                     "THREADS,MODE" pairs to draw, space-separated;
#                     logscale (1: logarithmic seconds axis)
#
# outfile names the SVG to write.

height = chart eq 'accuracy' ? 600 : 480
set terminal svg size 900,height dynamic noenhanced font "sans,12"
set output outfile
set grid ytics
# gnuplot has 8 colours before they repeat; chain has 9 modes.
set linetype 9 lc rgb "#8c564b"
set linetype 10 lc rgb "#7f7f7f"
set linetype 11 lc rgb "#bcbd22"
set linetype 12 lc rgb "#17becf"

if (chart eq 'bars') {
    set datafile separator "\t"
    set datafile missing "-"
    set title heading
    if (exists("logscale") && logscale) {
        set logscale y
        set ylabel ylabel . " (log scale)"
    } else {
        set ylabel ylabel
        set yrange [0:*]
    }
    set style data histograms
    set style histogram clustered gap 1
    set style fill solid 0.85 border -1
    set boxwidth 0.9
    set key outside right top
    set bmargin 7
    set xtics rotate by -25 left nomirror
    plot for [i=2:ncol] datafile using i:xtic(1) title columnheader(i) \
        noenhanced
} else {
    set datafile separator ","
    set title "Time to accuracy: Fashion-MNIST MLP"
    set ylabel "test accuracy"
    if (exists("logscale") && logscale) {
        set logscale x
        set xlabel "training seconds (log scale)"
    } else {
        set xlabel "training seconds"
        set xrange [0:*]
    }
    set key below
    # A point belongs to series s when its "threads,mode" is s.
    key_of(t, m) = t . "," . m
    comma(s) = strstrt(s, ",")
    name_of(m) = m eq "eager" ? "ember eager" : \
        m eq "traced" ? "ember traced (jit), a call per step" : \
        m eq "epoch-in-graph" ? "ember traced, a call per epoch" : \
        m eq "torch-eager" ? "PyTorch eager" : \
        m eq "libtorch" ? "PyTorch C++ API (libtorch)" : m
    threads_of(t) = t eq "1" ? "1 thread" : t . " threads"
    # Circles for one thread, squares for more.
    point_of(s) = s[1:comma(s) - 1] eq "1" ? 7 : 5
    title_of(s) = name_of(s[comma(s) + 1:]) . " (" . \
        threads_of(s[1:comma(s) - 1]) . ")"
    plot for [s in series] datafile skip 1 \
        using 4:(key_of(strcol(1), strcol(2)) eq s ? $5 : NaN) \
        with linespoints pointtype point_of(s) title title_of(s) noenhanced
}
