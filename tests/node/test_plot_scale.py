"""``scripts/plot_scale.py``: one series, or one per labelled run, drawn as a PNG."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run_file(path: Path, curve: list[dict[str, float]] | None) -> Path:
    audit: dict[str, object] = {
        "report": {"sound": True, "transactions": 40_000},
        "seconds": 100.0,
        "peak_rss_mb": 512.0,
    }
    if curve is not None:
        audit["curve"] = curve
    path.write_text(json.dumps({"audit": audit}), encoding="utf-8")
    return path


def _plot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/plot_scale.py", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def _pixels(png: bytes) -> bytes:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    # The image data: every IDAT chunk, inflated (this writer's rows, one filter byte each).
    data, at = b"", 8
    while at < len(png):
        size = int.from_bytes(png[at : at + 4], "big")
        if png[at + 4 : at + 8] == b"IDAT":
            data += png[at + 8 : at + 8 + size]
        at += 12 + size
    return zlib.decompress(data)


def test_labelled_runs_are_separate_series(tmp_path: Path) -> None:
    curve = [
        {"transactions": 10_000, "rate": 800.0, "rss_mb": 300.0, "anon_mb": 200.0},
        {"transactions": 40_000, "rate": 600.0, "rss_mb": 400.0, "anon_mb": 250.0},
    ]
    before = _run_file(tmp_path / "before.json", None)
    after = _run_file(tmp_path / "after.json", curve)
    merged, labelled = tmp_path / "merged.png", tmp_path / "labelled.png"
    assert _plot(str(before), str(after), "--out", str(merged)).returncode == 0
    done = _plot(
        str(before), str(after), "--labels", "layout 2", "layout 3", "--out", str(labelled)
    )
    assert done.returncode == 0, done.stderr
    # Both are pictures of the same size; the labelled one draws other lines and a legend.
    assert len(_pixels(merged.read_bytes())) == len(_pixels(labelled.read_bytes()))
    assert _pixels(merged.read_bytes()) != _pixels(labelled.read_bytes())


def test_one_label_per_file(tmp_path: Path) -> None:
    run = _run_file(tmp_path / "run.json", None)
    done = _plot(str(run), str(run), "--labels", "only one", "--out", str(tmp_path / "x.png"))
    assert done.returncode == 2
    assert "one label per file" in done.stderr
    assert not (tmp_path / "x.png").exists()
