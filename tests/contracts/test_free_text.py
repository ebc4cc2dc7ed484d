"""Free text in transactions: no control or bidirectional-override characters, anywhere.

A reason is shown to officers in terminals and pages; a reason of
``\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mCLEARED BY CUSTOMS`` would repaint a terminal,
and a right-to-left override would make text read other than it is. Every
free-text field of a transaction body is printable text (``str.isprintable``:
no Cc or Cf characters, no line or paragraph separators), and a declaration
id in a body has the form a document's ``declarationId`` has.
"""

from __future__ import annotations

from typing import Any, Final

import pytest

from tests.contracts.fixtures import Community, community
from tests.samples import sample

HOSTILE: Final = (
    "\x1b]0;pwned\x07\x1b[2J\x1b[31mCLEARED BY CUSTOMS",
    "ok\x00",
    "bell\x07",
    "line\nbreak",
    "\u202eDEREFSNART",  # right-to-left override
    "zero\u200bwidth",  # a format character
    "sep\u2028arator",
)


def _submitted(c: Community) -> None:
    body = {"declaration": sample(decl_id="FT-1")}
    assert c.block([c.tx("shipper-acme", "declaration.submit", body)])[0]["ok"]


def _codes(result: dict[str, Any]) -> list[tuple[str, str]]:
    assert not result["ok"], result
    return [(v["code"], v["path"]) for v in result["violations"]]


@pytest.mark.parametrize("reason", HOSTILE)
@pytest.mark.parametrize(
    ("org", "type_", "body"),
    [
        ("shipper-acme", "declaration.cancel", {"id": "FT-1"}),
        (
            "port-authority",
            "declaration.decide",
            {"id": "FT-1", "owner": "shipper-acme", "decision": "refused"},
        ),
    ],
)
def test_a_reason_with_control_characters_is_refused(
    org: str, type_: str, body: dict[str, Any], reason: str
) -> None:
    c = community()
    _submitted(c)
    result = c.block([c.tx(org, type_, {**body, "reason": reason})])[0]
    assert _codes(result) == [("body.invalid_field", "$.body.reason")]
    # The same reason in plain text is taken.
    plain = "".join(ch if ch.isprintable() else " " for ch in reason).strip() or "plain"
    assert c.block([c.tx(org, type_, {**body, "reason": plain})])[0]["ok"]


@pytest.mark.parametrize("decl_id", ["FT-1\x1b[2J", "\u202eFT-1", " FT-1", "FT 1", "x" * 101])
def test_a_declaration_id_in_a_body_has_the_form_of_a_declaration_id(decl_id: str) -> None:
    c = community()
    _submitted(c)
    result = c.block([c.tx("shipper-acme", "declaration.cancel", {"id": decl_id})])[0]
    assert _codes(result) == [("body.invalid_field", "$.body.id")]
