#!/usr/bin/env python3
"""Draws the QQ plot of null p-values (SVG, standard library only).

    bench/fpr/qq.py DIR OUT.svg

DIR holds qq-SCHEME.tsv files written by `isotope_fpr --qq DIR`: expected and
observed -log10 p at log-spaced ranks, and the pointwise 95% band of uniform
order statistics. One panel per scheme: points on the diagonal inside the band
mean the p-values are uniform (calibrated); points below it mean the test is
conservative there.
"""
import math
import pathlib
import sys

SCHEMES = ["kgw", "gumbel", "synthid"]
W, H = 300, 300  # one panel's plot area
ML, MR, MT, MB = 55, 15, 40, 45  # margins


def load(path):
    rows = []
    lines = path.read_text().splitlines()
    for line in lines[1:]:
        rows.append([float(x) for x in line.split("\t")])
    return rows


def main():
    src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    panels = [(s, load(src / f"qq-{s}.tsv")) for s in SCHEMES if (src / f"qq-{s}.tsv").exists()]
    if not panels:
        sys.exit(f"no qq-*.tsv in {src}")
    top = math.ceil(max(max(r[0], r[1], r[3]) for _, rows in panels for r in rows))
    pw = ML + W + MR
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{pw * len(panels)}" height="{MT + H + MB}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="100%" height="100%" fill="white"/>',
    ]

    def xy(ox, e, o):
        return ox + ML + W * e / top, MT + H - H * o / top

    for i, (scheme, rows) in enumerate(panels):
        ox = i * pw
        # the 95% band of uniform order statistics
        upper = [xy(ox, r[0], r[3]) for r in rows]
        lower = [xy(ox, r[0], r[2]) for r in reversed(rows)]
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in upper + lower)
        svg.append(f'<polygon points="{pts}" fill="#cfe3f7" stroke="none"/>')
        # axes and grid
        for t in range(0, top + 1):
            x, y0 = xy(ox, t, 0)
            x0, y = xy(ox, 0, t)
            svg.append(f'<line x1="{x:.1f}" y1="{MT}" x2="{x:.1f}" y2="{MT + H}" stroke="#eee"/>')
            svg.append(f'<line x1="{ox + ML}" y1="{y:.1f}" x2="{ox + ML + W}" y2="{y:.1f}" stroke="#eee"/>')
            svg.append(f'<text x="{x:.1f}" y="{MT + H + 15}" text-anchor="middle">{t}</text>')
            svg.append(f'<text x="{ox + ML - 6}" y="{y + 4:.1f}" text-anchor="end">{t}</text>')
        svg.append(f'<rect x="{ox + ML}" y="{MT}" width="{W}" height="{H}" fill="none" stroke="#333"/>')
        x1, y1 = xy(ox, 0, 0)
        x2, y2 = xy(ox, top, top)
        svg.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#888" stroke-dasharray="4,3"/>')
        for r in rows:
            x, y = xy(ox, r[0], r[1])
            svg.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="#c0392b"/>')
        svg.append(f'<text x="{ox + ML + W / 2}" y="{MT - 14}" text-anchor="middle" font-size="14" '
                   f'font-weight="bold">{scheme}</text>')
        svg.append(f'<text x="{ox + ML + W / 2}" y="{MT + H + 35}" text-anchor="middle">'
                   f'expected -log10 p (uniform)</text>')
        svg.append(f'<text transform="translate({ox + 16},{MT + H / 2}) rotate(-90)" text-anchor="middle">'
                   f'observed -log10 p</text>')
    svg.append("</svg>")
    out.write_text("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
