# The medians of a benchmarks/run.sh run as one Markdown table: a row per
# workload, case and thread count, a column per mode. Reads the run's
# raw/rows.tsv (tab-separated: workload, threads, case, mode, unit,
# median, min, max, baseline, ratio, tier, compile_ms) and writes the
# table to stdout.
#
#   awk -F'\t' -f benchmarks/summary.awk DIR/raw/rows.tsv

BEGIN {
    nmodes = split("eager graph jit reference reference-libm torch-eager " \
                   "torch-script libtorch libtorch-script", order, " ")
}

# Three significant digits, at least the units digit.
function fmt(v) {
    if (v >= 100)
        return sprintf("%.0f", v)
    if (v >= 10)
        return sprintf("%.1f", v)
    return sprintf("%.2f", v)
}

{
    row = $1 SUBSEP $3 SUBSEP $2
    if (!(row in seen)) {
        seen[row] = 1
        rows[++nrows] = row
        unit[row] = $5
    }
    median[row, $4] = $6
    used[$4] = 1
}

END {
    header = "| workload | case | threads |"
    rule = "|---|---|---:|"
    for (i = 1; i <= nmodes; i++)
        if (order[i] in used) {
            header = header " " order[i] " |"
            rule = rule "---:|"
        }
    print header
    print rule
    # Rows grouped by workload and case, thread counts together.
    for (i = 1; i <= nrows; i++) {
        split(rows[i], k, SUBSEP)
        if ((k[1], k[2]) in done)
            continue
        for (j = i; j <= nrows; j++) {
            split(rows[j], m, SUBSEP)
            if (m[1] != k[1] || m[2] != k[2])
                continue
            line = "| " m[1] " (" unit[rows[j]] ") | " m[2] " | " m[3] " |"
            for (c = 1; c <= nmodes; c++) {
                if (!(order[c] in used))
                    continue
                cell = (rows[j], order[c]) in median ? \
                    fmt(median[rows[j], order[c]]) : ""
                line = line " " cell " |"
            }
            print line
        }
        done[k[1], k[2]] = 1
    }
}
