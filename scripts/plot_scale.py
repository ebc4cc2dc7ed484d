#!/usr/bin/env python3
"""Plot audit rate and memory against chain length from ``bench_scale.py --json`` files.

Run from the repository root::

    .venv/bin/python scripts/plot_scale.py run1.json [run2.json ...] --out docs/scale.png
    .venv/bin/python scripts/plot_scale.py a.json b.json --labels "LAYOUT 2" "LAYOUT 3" --out p.png

Each file's audit checkpoints (``--curve``) become points: transactions
audited so far on the x axis; the audit rate (top panel) and the resident
memory, total and anonymous (bottom panel). Files given ``--labels`` are
drawn as one series each under their label (letters, digits and spaces);
without labels all points form one series. The PNG is drawn here, with
``zlib`` and a 5x7 bitmap font, so plotting needs no extra package.
"""

from __future__ import annotations

import argparse
import itertools
import json
import struct
import zlib
from pathlib import Path

Color = tuple[int, int, int]
WHITE: Color = (255, 255, 255)
BLACK: Color = (0, 0, 0)
GREY: Color = (215, 215, 215)
BLUE: Color = (31, 119, 180)
ORANGE: Color = (230, 110, 20)
GREEN: Color = (44, 160, 44)
RED: Color = (214, 39, 40)
PURPLE: Color = (148, 103, 189)
BROWN: Color = (140, 86, 75)
# Per series: the rate's and the total memory's colour, then the anonymous memory's.
PALETTE: list[tuple[Color, Color]] = [(BLUE, GREEN), (ORANGE, PURPLE), (RED, BROWN)]

# 5x7 glyphs, one string of 7 rows of 5 bits each, for the characters the labels use.
FONT = {
    "0": "01110 10001 10011 10101 11001 10001 01110",
    "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111",
    "3": "11110 00001 00001 01110 00001 00001 11110",
    "4": "00010 00110 01010 10010 11111 00010 00010",
    "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110",
    "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110",
    "9": "01110 10001 10001 01111 00001 00010 01100",
    "A": "01110 10001 10001 11111 10001 10001 10001",
    "B": "11110 10001 10001 11110 10001 10001 11110",
    "C": "01110 10001 10000 10000 10000 10001 01110",
    "D": "11110 10001 10001 10001 10001 10001 11110",
    "E": "11111 10000 10000 11110 10000 10000 11111",
    "F": "11111 10000 10000 11110 10000 10000 10000",
    "G": "01110 10001 10000 10111 10001 10001 01111",
    "H": "10001 10001 10001 11111 10001 10001 10001",
    "I": "01110 00100 00100 00100 00100 00100 01110",
    "K": "10001 10010 10100 11000 10100 10010 10001",
    "L": "10000 10000 10000 10000 10000 10000 11111",
    "M": "10001 11011 10101 10101 10001 10001 10001",
    "N": "10001 11001 10101 10011 10001 10001 10001",
    "O": "01110 10001 10001 10001 10001 10001 01110",
    "P": "11110 10001 10001 11110 10000 10000 10000",
    "R": "11110 10001 10001 11110 10100 10010 10001",
    "S": "01111 10000 10000 01110 00001 00001 11110",
    "T": "11111 00100 00100 00100 00100 00100 00100",
    "U": "10001 10001 10001 10001 10001 10001 01110",
    "V": "10001 10001 10001 10001 10001 01010 00100",
    "X": "10001 10001 01010 00100 01010 10001 10001",
    "Y": "10001 10001 01010 00100 00100 00100 00100",
    "W": "10001 10001 10001 10101 10101 10101 01010",
    " ": "00000 00000 00000 00000 00000 00000 00000",
    "/": "00001 00010 00010 00100 01000 01000 10000",
    "(": "00010 00100 01000 01000 01000 00100 00010",
    ")": "01000 00100 00010 00010 00010 00100 01000",
    ",": "00000 00000 00000 00000 00110 00100 01000",
    ".": "00000 00000 00000 00000 00000 01100 01100",
    "-": "00000 00000 00000 11111 00000 00000 00000",
    ":": "00000 01100 01100 00000 01100 01100 00000",
}


class Canvas:
    """An RGB raster with the few drawing operations a line chart needs."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray(WHITE * (width * height))

    def dot(self, x: int, y: int, color: Color) -> None:
        """Set one pixel (outside the canvas: ignored)."""
        if 0 <= x < self.width and 0 <= y < self.height:
            i = 3 * (y * self.width + x)
            self.pixels[i : i + 3] = bytes(color)

    def line(self, x0: int, y0: int, x1: int, y1: int, color: Color, width: int = 1) -> None:
        """A straight line (Bresenham), ``width`` pixels thick."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            for ox in range(width):
                for oy in range(width):
                    self.dot(x0 + ox - width // 2, y0 + oy - width // 2, color)
            if (x0, y0) == (x1, y1):
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def square(self, x: int, y: int, size: int, color: Color) -> None:
        """A filled square centred on (x, y)."""
        for ox in range(-size, size + 1):
            for oy in range(-size, size + 1):
                self.dot(x + ox, y + oy, color)

    def text(self, x: int, y: int, words: str, color: Color = BLACK, scale: int = 2) -> None:
        """Upper-case text from the 5x7 font, top-left at (x, y)."""
        for ch in words.upper():
            rows = FONT.get(ch, FONT[" "]).split()
            for r, bits in enumerate(rows):
                for c, bit in enumerate(bits):
                    if bit == "1":
                        for ox in range(scale):
                            for oy in range(scale):
                                self.dot(x + c * scale + ox, y + r * scale + oy, color)
            x += 6 * scale

    def png(self) -> bytes:
        """The canvas as PNG bytes (8-bit RGB, no filtering)."""
        raw = b"".join(
            b"\x00" + bytes(self.pixels[3 * y * self.width : 3 * (y + 1) * self.width])
            for y in range(self.height)
        )

        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


def nice_step(top: float) -> float:
    """A round tick step giving about five ticks up to ``top``."""
    step = 1.0
    while top / step > 8:
        for factor in (2, 2.5, 2):
            step *= factor
            if top / step <= 8:
                break
    return step


def label(value: float) -> str:
    """A short tick label: 250k, 1.5M, 1200."""
    if value >= 1_000_000:
        return f"{value / 1e6:g}M"
    if value >= 10_000:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def panel(
    canvas: Canvas,
    box: tuple[int, int, int, int],
    title: str,
    x_max: float,
    series: list[tuple[str, Color, list[tuple[float, float]]]],
    *,
    x_label: bool,
) -> None:
    """One chart in ``box`` (left, top, right, bottom) with its axes, ticks and series."""
    left, top, right, bottom = box
    y_max = max((y for _, _, pts in series for _, y in pts), default=1.0) * 1.15 or 1.0
    ystep, xstep = nice_step(y_max), nice_step(x_max)

    def px(x: float) -> int:
        return left + round((right - left) * x / x_max)

    def py(y: float) -> int:
        return bottom - round((bottom - top) * y / y_max)

    y = 0.0
    while y <= y_max:
        canvas.line(left, py(y), right, py(y), GREY)
        canvas.text(left - 8 - 12 * len(label(y)), py(y) - 7, label(y))
        y += ystep
    x = 0.0
    while x <= x_max * 1.0001:
        canvas.line(px(x), bottom, px(x), bottom + 6, BLACK)
        canvas.text(px(x) - 6 * len(label(x)), bottom + 12, label(x))
        x += xstep
    canvas.line(left, top, left, bottom, BLACK, 2)
    canvas.line(left, bottom, right, bottom, BLACK, 2)
    canvas.text(left, top - 28, title, BLACK, 2)
    for i, (name, color, points) in enumerate(series):
        # Legend in the bottom-right corner, where these curves never go.
        row = bottom - 22 * (len(series) - i) - 10
        canvas.square(right - 330, row + 7, 5, color)
        canvas.text(right - 315, row, name, color)
        ordered = sorted(points)
        for (ax, ay), (bx, by) in itertools.pairwise(ordered):
            canvas.line(px(ax), py(ay), px(bx), py(by), color, 3)
        for ax, ay in ordered:
            canvas.square(px(ax), py(ay), 5, color)
    if x_label:
        canvas.text((left + right) // 2 - 180, bottom + 40, "TRANSACTIONS AUDITED")


Points = list[tuple[float, float]]


def audit_points(result: dict[str, object]) -> tuple[Points, Points, Points]:
    """Rate, RSS and anonymous memory against transactions audited, from one run."""
    audit = result["audit"]
    assert isinstance(audit, dict)
    # With --curve the last point is the end of the audit; without, only the end is known.
    points = audit.get("curve") or [
        {
            "transactions": audit["report"]["transactions"],
            "rate": audit["report"]["transactions"] / audit["seconds"],
            "rss_mb": audit["peak_rss_mb"],
        }
    ]
    rate = [(p["transactions"], p["rate"]) for p in points]
    rss = [(p["transactions"], p["rss_mb"]) for p in points]
    anon = [(p["transactions"], p["anon_mb"]) for p in points if "anon_mb" in p]
    return rate, rss, anon


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("runs", nargs="+", type=Path, help="bench_scale.py --json files")
    p.add_argument("--labels", nargs="+", help="one series per file, under these names")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    if args.labels and len(args.labels) != len(args.runs):
        p.error("give one label per file")
    if args.labels and len(args.labels) > len(PALETTE):
        p.error(f"at most {len(PALETTE)} labelled files")
    runs = [audit_points(json.loads(path.read_text(encoding="utf-8"))) for path in args.runs]
    if not args.labels:
        runs = [
            (
                [point for run in runs for point in run[0]],
                [point for run in runs for point in run[1]],
                [point for run in runs for point in run[2]],
            )
        ]
    names = [name.upper() for name in args.labels] if args.labels else ["DGLEDGER AUDIT"]
    rate_series = []
    memory_series = []
    for name, (rate, rss, anon), (color, anon_color) in zip(names, runs, PALETTE, strict=False):
        suffix = f" {name}" if args.labels else ""
        rate_series.append((name, color, rate))
        memory_series.append(("RSS" + suffix, color if args.labels else ORANGE, rss))
        if anon:
            memory_series.append(("ANONYMOUS" + suffix, anon_color, anon))
    x_max = max(x for run in runs for x, _ in run[0]) * 1.05
    canvas = Canvas(1000, 760)
    panel(canvas, (130, 60, 960, 330), "AUDIT RATE (TX/S)", x_max, rate_series, x_label=False)
    panel(canvas, (130, 420, 960, 690), "AUDIT MEMORY (MB)", x_max, memory_series, x_label=True)
    args.out.write_bytes(canvas.png())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
