# Charts for benchmarks/run.sh, as SVG. Variables set with gnuplot -e:
#
#   chart='bars'      datafile: tab-separated, a header row "case MODE...",
#                     then one row per case, one median per mode ('-' where
#                     a mode has no such case); heading, ylabel, ncol (the
#                     number of columns)
#   chart='accuracy'  datafile: time_to_accuracy.csv (threads, mode, epoch,
#                     cumulative seconds, test accuracy); series, the
#                     "THREADS,MODE" pairs to draw, space-separated
#
# outfile names the SVG to write.

set terminal svg size 900,480 dynamic font "sans,12"
set output outfile
set grid ytics
set key outside right top

if (chart eq 'bars') {
    set datafile separator "\t"
    set datafile missing "-"
    set title heading
    set ylabel ylabel
    set yrange [0:*]
    set style data histograms
    set style histogram clustered gap 1
    set style fill solid 0.85 border -1
    set boxwidth 0.9
    set xtics rotate by -25 left nomirror
    plot for [i=2:ncol] datafile using i:xtic(1) title columnheader(i) \
        noenhanced
} else {
    set datafile separator ","
    set title "Time to accuracy: Fashion-MNIST MLP"
    set xlabel "training seconds"
    set ylabel "test accuracy"
    set xrange [0:*]
    # A point belongs to series s when its "threads,mode" is s.
    key_of(t, m) = t . "," . m
    comma(s) = strstrt(s, ",")
    title_of(s) = s[comma(s) + 1:] . " (" . s[1:comma(s) - 1] . " threads)"
    plot for [s in series] datafile skip 1 \
        using 4:(key_of(strcol(1), strcol(2)) eq s ? $5 : NaN) \
        with linespoints pointtype 7 title title_of(s) noenhanced
}
