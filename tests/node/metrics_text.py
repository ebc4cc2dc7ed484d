"""Reading a node's Prometheus answer in tests: samples by name and labels, rejections by reason.

The parser takes the text exposition format as Prometheus does (``# HELP``
and ``# TYPE`` lines, then ``name{label="value",...} number``) and refuses
anything else, so a malformed line in ``/metrics`` fails the test that reads
it rather than being skipped.
"""

from __future__ import annotations

import re
from typing import Final

import httpx

_SAMPLE: Final = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})?'
    r" (?P<value>-?[0-9.eE+-]+|NaN|[+-]Inf)$"
)
_LABEL: Final = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


Sample = tuple[str, tuple[tuple[str, str], ...]]


def parse_metrics(text: str) -> dict[Sample, float]:
    """Every sample of a text exposition, keyed by (name, sorted labels)."""
    samples: dict[Sample, float] = {}
    types: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if line.startswith("# HELP "):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            raise AssertionError(f"/metrics line {number} is not a sample: {line!r}")
        labels = tuple(sorted(_LABEL.findall(match["labels"] or "")))
        key = (match["name"], labels)
        if key in samples:
            raise AssertionError(f"/metrics line {number} repeats {key}")
        family = re.sub(r"_(count|sum|total)$", "", match["name"])
        if match["name"] not in types and family not in types:
            raise AssertionError(f"/metrics line {number}: {match['name']} has no # TYPE")
        samples[key] = float(match["value"])
    return samples


def scrape(http: httpx.Client) -> dict[Sample, float]:
    """The node's metrics, parsed."""
    response = http.get("/metrics")
    if response.status_code != 200:
        raise AssertionError(f"/metrics answered {response.status_code}")
    return parse_metrics(response.text)


def rejected(http: httpx.Client) -> dict[str, int]:
    """``dgledger_rejected_messages_total`` by reason."""
    return {
        dict(labels)["reason"]: int(value)
        for (name, labels), value in scrape(http).items()
        if name == "dgledger_rejected_messages_total"
    }


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Reasons whose count changed, with the change."""
    return {
        reason: after.get(reason, 0) - before.get(reason, 0)
        for reason in set(before) | set(after)
        if after.get(reason, 0) != before.get(reason, 0)
    }
