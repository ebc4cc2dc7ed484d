"""The request mark: what a node accepted before a crash stays refused after it.

:class:`RequestVerifier` over a real mark file, restarted by building a new
verifier on the same file, with fixed keys and an injected clock; the log's
crash and damage cases on its bytes; the client's answer to a refusal of a
request signed before a restart through httpx's mock transport.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

import httpx
import pytest

from ledger.crypto import SigningKey, Verifier
from node.auth import HEADER_TIME, MARK_STEP_MS, RequestVerifier, sign_request
from node.client.client import Client
from node.errors import AuthError, StartupError
from node.request_mark import MAGIC, RECORD_SIZE, ROTATE_RECORDS, RequestMark, record

CHAIN: Final = "dg-mark"
NODE: Final = "customs"
ALICE: Final = SigningKey.from_seed(b"alice".ljust(32, b"\x00"))
NOW: Final = 1_790_000_000_000
PATH: Final = "/v1/declarations?limit=5"
VERIFIER: Final = Verifier(workers=1)
SKEW: Final = 60_000


def started(path: Path) -> RequestVerifier:
    """A node's verifier as it starts over the mark file ``path``."""
    return RequestVerifier(CHAIN, VERIFIER, NODE, mark=RequestMark(path))


def signed(time_ms: int, path: str = PATH) -> dict[str, str]:
    return sign_request(ALICE, CHAIN, "GET", path, b"", time_ms, node=NODE)


def code(verifier: RequestVerifier, headers: dict[str, str], now: int) -> str:
    with pytest.raises(AuthError) as info:
        verifier.check(headers, "GET", PATH, b"", now)
    return info.value.code


def records(path: Path) -> int:
    return (path.stat().st_size - len(MAGIC)) // RECORD_SIZE


def test_a_request_accepted_before_a_restart_is_refused_after_it(tmp_path: Path) -> None:
    mark = tmp_path / "request-mark"
    before = started(mark)
    captured = signed(NOW)
    before.check(captured, "GET", PATH, b"", NOW)
    after = started(mark)  # the crash forgot every signature seen
    assert code(after, captured, NOW + 3_000) == "auth.signed_before_restart"
    with pytest.raises(AuthError) as info:
        after.check(captured, "GET", PATH, b"", NOW + 3_000)
    assert info.value.not_before is not None and info.value.not_before >= NOW
    # Signed again after the mark: a new request, accepted.
    assert after.check(signed(info.value.not_before + 1), "GET", PATH, b"", NOW + 3_000)


def test_a_request_from_a_clock_ahead_is_refused_after_a_restart(tmp_path: Path) -> None:
    """Signed 30 s ahead just before the crash: after a restart 5 s later, not fresh."""
    mark = tmp_path / "request-mark"
    ahead = signed(NOW + 30_000)
    started(mark).check(ahead, "GET", PATH, b"", NOW)
    assert code(started(mark), ahead, NOW + 5_000) == "auth.signed_before_restart"


def test_the_mark_is_written_once_a_step_not_once_a_request(tmp_path: Path) -> None:
    mark = tmp_path / "request-mark"
    v = started(mark)
    for i in range(200):  # twenty a second for ten seconds
        now = NOW + i * 50
        v.check(signed(now), "GET", PATH, b"", now)
    assert records(mark) == 10_000 // MARK_STEP_MS


def test_times_signed_anywhere_in_the_window_cost_about_a_write_a_step(tmp_path: Path) -> None:
    """Alternating clocks far behind and far ahead write no more than the window's steps."""
    mark = tmp_path / "request-mark"
    v = started(mark)
    seconds = 30
    for i in range(seconds * 10):
        now = NOW + i * 100
        offset = SKEW if i % 2 else -SKEW
        v.check(signed(now + offset), "GET", PATH, b"", now)
    assert records(mark) <= seconds * 1000 // MARK_STEP_MS + 2


def test_without_a_file_the_mark_is_zero_and_a_first_request_writes_one(tmp_path: Path) -> None:
    mark = tmp_path / "request-mark"
    v = started(mark)
    assert v.not_before == 0
    v.check(signed(NOW), "GET", PATH, b"", NOW)
    assert RequestMark(mark).load() == NOW + MARK_STEP_MS
    assert mark.stat().st_mode & 0o777 == 0o600


def test_a_torn_or_unwritten_last_record_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "request-mark"
    intact = MAGIC + record(NOW) + record(NOW + 5)
    for tail in (record(NOW + 10)[:7], bytes(RECORD_SIZE), b"\xff" * RECORD_SIZE):
        path.write_bytes(intact + tail)
        assert RequestMark(path).load() == NOW + 5
    # Marks only grow: a damaged record before the last loses nothing.
    path.write_bytes(MAGIC + bytes(RECORD_SIZE) + record(NOW + 7))
    assert RequestMark(path).load() == NOW + 7


@pytest.mark.parametrize("data", [b"", b"DGSIGN\x00\x01", b"not a mark at all"])
def test_a_file_that_is_not_a_mark_stops_the_start(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "request-mark"
    path.write_bytes(data)
    with pytest.raises(StartupError, match="not a request mark"):
        started(path)


def test_a_long_log_is_written_afresh_with_its_mark(tmp_path: Path) -> None:
    path = tmp_path / "request-mark"
    path.write_bytes(MAGIC + b"".join(record(NOW + i) for i in range(ROTATE_RECORDS)))
    mark = RequestMark(path)
    assert mark.load() == NOW + ROTATE_RECORDS - 1
    mark.save(NOW + ROTATE_RECORDS)
    assert path.read_bytes() == MAGIC + record(NOW + ROTATE_RECORDS)
    assert not path.with_name("request-mark.tmp").exists()


def test_a_mark_that_cannot_be_written_refuses_the_request_unavailable(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    directory.mkdir()
    v = started(directory / "request-mark")
    directory.rmdir()
    directory.write_bytes(b"")  # the data directory is gone: nothing can be written there
    with pytest.raises(AuthError) as info:
        v.check(signed(NOW), "GET", PATH, b"", NOW)
    assert (info.value.code, info.value.status) == ("auth.unavailable", 503)
    directory.unlink()
    directory.mkdir()
    # Not accepted, so not remembered as seen: the same request passes once it can be.
    assert v.check(signed(NOW), "GET", PATH, b"", NOW)


def test_the_client_signs_again_after_the_nodes_mark_once() -> None:
    times: list[int] = []
    not_before = 2**45

    def node(request: httpx.Request) -> httpx.Response:
        times.append(int(request.headers[HEADER_TIME]))
        if len(times) == 1:
            error = {
                "code": "auth.signed_before_restart",
                "message": "signed before the restart",
                "not_before": not_before,
            }
            return httpx.Response(401, content=json.dumps({"error": error}))
        return httpx.Response(200, json={"items": [], "next": None})

    http = httpx.Client(transport=httpx.MockTransport(node))
    client = Client("http://node.test", CHAIN, ALICE, http=http, node=NODE)
    assert client.declarations(limit=1) == {"items": [], "next": None}
    assert len(times) == 2 and times[0] <= not_before < times[1]


def test_a_request_signed_just_after_a_mark_past_the_window_is_let_in(tmp_path: Path) -> None:
    """A clock 60 s ahead raised the mark, the node was back within a second: still readable."""
    mark = tmp_path / "request-mark"
    started(mark).check(signed(NOW + SKEW), "GET", PATH, b"", NOW)
    after = started(mark)
    now = NOW + 200
    assert after.not_before == NOW + SKEW + MARK_STEP_MS
    assert after.check(signed(after.not_before + 1), "GET", PATH, b"", now)
    # A step past the mark is as far as that goes.
    too_far = signed(after.not_before + MARK_STEP_MS + 1)
    assert code(after, too_far, now) == "auth.stale"
