#!/usr/bin/env python3
"""Draws the benchmark's growth plot as SVG, with the standard library only.

Usage: plot.py RESULTS.tsv OUT.svg
The TSV's first line names the columns; `rows` is the x axis. Two panels:
seconds (workload, full verify, client walk alone, server function, COPY
baseline, incremental verify) and peak memory in MiB (full and incremental verify), against rows.
"""
import csv
import sys

TIME_SERIES = [("workload_s", "workload", "#1f77b4"), ("verify_s", "full verify (both verdicts)", "#d62728"),
               ("client_s", "client walk alone", "#8c564b"),
               ("server_fn_s", "server function", "#ff7f0e"), ("copy_s", "COPY baseline", "#2ca02c"),
               ("incremental_s", "incremental verify (+increment)", "#9467bd")]
MEMORY_SERIES = [("verify_peak_mib", "full verify peak RSS", "#d62728"),
                 ("incremental_peak_mib", "incremental verify peak RSS", "#9467bd")]
WIDTH, HEIGHT, MARGIN = 560, 360, 60


def panel(rows, series, title, unit, x0):
    xs = [float(r["rows"]) for r in rows]
    values = [float(r[key]) for r in rows for key, _, _ in series if r.get(key)]
    x_max = max(xs) if xs else 1
    y_max = max(values) * 1.1 if values else 1
    left, top = x0 + MARGIN, MARGIN
    plot_w, plot_h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN

    def px(x):
        return left + plot_w * x / x_max

    def py(y):
        return top + plot_h * (1 - y / y_max)

    out = [f'<text x="{left + plot_w / 2}" y="{top - 25}" text-anchor="middle" font-size="15">{title}</text>',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="black"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="black"/>']
    for i in range(5):
        y = y_max * i / 4
        out.append(f'<text x="{left - 6}" y="{py(y) + 4}" text-anchor="end" font-size="11">{y:.0f}</text>')
        out.append(f'<line x1="{left}" y1="{py(y)}" x2="{left + plot_w}" y2="{py(y)}" stroke="#ddd"/>')
    for x in xs:
        out.append(f'<text x="{px(x)}" y="{top + plot_h + 16}" text-anchor="middle" font-size="11">'
                   f'{x / 1e6:g}M</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h + 36}" text-anchor="middle" font-size="12">rows</text>')
    out.append(f'<text x="{x0 + 14}" y="{top + plot_h / 2}" font-size="12" '
               f'transform="rotate(-90 {x0 + 14} {top + plot_h / 2})" text-anchor="middle">{unit}</text>')
    for n, (key, label, colour) in enumerate(series):
        points = [(px(float(r["rows"])), py(float(r[key]))) for r in rows if r.get(key)]
        if points:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
            out.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points)
        out.append(f'<rect x="{left + 8}" y="{top + 6 + 16 * n}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{left + 22}" y="{top + 15 + 16 * n}" font-size="11">{label}</text>')
    return out


def main():
    with open(sys.argv[1], newline="") as source:
        rows = list(csv.DictReader(source, delimiter="\t"))
    body = panel(rows, TIME_SERIES, "time against rows", "seconds", 0)
    body += panel(rows, MEMORY_SERIES, "memory against rows", "MiB", WIDTH)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * WIDTH}" height="{HEIGHT}" '
           f'font-family="sans-serif">', f'<rect width="{2 * WIDTH}" height="{HEIGHT}" fill="white"/>'] + body
    with open(sys.argv[2], "w") as out:
        out.write("\n".join(svg + ["</svg>"]) + "\n")


if __name__ == "__main__":
    main()
