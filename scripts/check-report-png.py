#!/usr/bin/env python3
"""Checks a headless-Chromium screenshot of `mixtera report` (standard library only).

usage: check-report-png.py REPORT.png REPORT.html HEADER.json [--width W --height H] [--tolerance T]

- the PNG has the expected size and is not blank;
- the mixture chart (the first band of rows filled with component colours) shows every component
  with a pixel share within T (absolute) of its realized share from the header's mixture log;
- the consumption chart below it draws a line in every component's colour.
Component colours and names are read from the report's legend.
"""
import argparse
import json
import re
import struct
import sys
import zlib


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG")
    pos, idat, width = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace != 0:
                sys.exit(f"{path}: unsupported PNG (depth {depth}, colour type {ctype}, interlace {interlace})")
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows, prev, off = [], bytearray(stride), 0
    for _ in range(height):
        f = raw[off]
        line = bytearray(raw[off + 1:off + 1 + stride])
        off += 1 + stride
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 255
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        elif f != 0:
            sys.exit(f"{path}: bad PNG filter {f}")
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        prev = line
    return width, height, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("png")
    ap.add_argument("html")
    ap.add_argument("header")
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--height", type=int, default=1600)
    ap.add_argument("--tolerance", type=float, default=0.02)
    a = ap.parse_args()

    legend = re.findall(r'<li><span class="sw" style="background:(#[0-9a-f]{6})"></span>([^<]*)', open(a.html, encoding="utf-8").read())
    if not legend:
        sys.exit("no legend in the report")
    colours = [tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c, _ in legend]
    names = [n.strip() for _, n in legend]

    header = json.load(open(a.header))
    totals = [0] * len(header["components"])
    for e in header["mixture_log"]:
        n = e["to_step"] - e["from_step"] + 1
        for i, c in enumerate(e["counts"]):
            totals[i] += c * n
    grand = sum(totals)
    realized = [t / grand for t in totals]
    if [c["name"] for c in header["components"]] != names:
        sys.exit(f"legend {names} does not match the header's components")

    width, height, rows = read_png(a.png)
    problems = []
    if (width, height) != (a.width, a.height):
        problems.append(f"size {width}x{height}, expected {a.width}x{a.height}")
    white = sum(1 for r in rows for p in r if p[0] > 245 and p[1] > 245 and p[2] > 245)
    distinct = len({p for r in rows[::7] for p in r[::7]})
    nonwhite = 1 - white / (width * height)
    if nonwhite < 0.05 or distinct < 20:
        problems.append(f"page looks blank ({nonwhite:.1%} non-white, {distinct} colours sampled)")

    def which(p):
        for i, c in enumerate(colours):
            if abs(p[0] - c[0]) <= 6 and abs(p[1] - c[1]) <= 6 and abs(p[2] - c[2]) <= 6:
                return i
        return -1

    classified = [[which(p) for p in r] for r in rows]
    dense = [sum(1 for k in r if k >= 0) >= width // 2 for r in classified]
    top = next((y for y, d in enumerate(dense) if d), None)
    if top is None:
        problems.append("no mixture chart: no band of rows filled with component colours")
        bottom = None
    else:
        bottom = top
        while bottom < height and dense[bottom]:
            bottom += 1
        band = bottom - top
        if not 200 <= band <= 400:
            problems.append(f"mixture chart band is {band} rows high, expected about 300")
        counts = [0] * len(colours)
        for r in classified[top:bottom]:
            for k in r:
                if k >= 0:
                    counts[k] += 1
        total = sum(counts)
        for i, n in enumerate(names):
            share = counts[i] / total
            ok = abs(share - realized[i]) <= a.tolerance
            print(f"  {n:12s} colour {legend[i][0]}  pixels {share:6.1%}  realized {realized[i]:6.1%}  {'ok' if ok else 'MISMATCH'}")
            if not ok:
                problems.append(f"{n}: {share:.1%} of the chart's pixels, realized share {realized[i]:.1%}")
        # The consumption chart below: every component's line shows up.
        below = [0] * len(colours)
        for r in classified[bottom + 100:]:
            for k in r:
                if k >= 0:
                    below[k] += 1
        for i, n in enumerate(names):
            if header["components"][i]["selected"] > 0 and below[i] < 500:
                problems.append(f"{n}: no consumption line ({below[i]} pixels of its colour below the mixture chart)")
    print(f"  {width}x{height} PNG, {nonwhite:.1%} non-white, mixture chart rows {top}..{bottom}")
    if problems:
        for p in problems:
            print("FAIL: " + p, file=sys.stderr)
        sys.exit(1)
    print("report.png ok")


if __name__ == "__main__":
    main()
