"""Matching a declared proper shipping name against a Dangerous Goods List name.

IMDG 3.1.2.1 makes the proper shipping name the upper-case part of a list
entry; lower-case text qualifies it and need not be shown, "or" separates
alternative names of which the most appropriate one is shown, and an
alternative may follow in brackets (``ETHANOL (ETHYL ALCOHOL)``). Names may
be used in the singular or the plural (3.1.2.1). Lists as printed lose the
case distinction (49 CFR merges its italic qualifiers into the name:
"Gasoline includes gasoline mixed with ethyl alcohol..."), so the rule here
works on words.

Normalisation of both names, word by word:

* upper-case (accents dropped); every run of characters other than A-Z, 0-9
  and ``%`` separates words; ``%`` is the word PERCENT; the letters N O S in
  a row (``N.O.S.``) are the word NOS;
* British spellings are folded (SULPH -> SULF, ALUMINIUM -> ALUMINUM, ...);
* plurals are folded: -IES -> -Y; -SES/-XES/-CHES/-SHES lose -ES; a final S
  is dropped from words of four letters or more not ending in SS, US or IS.

A declared name matches a list name when its normalised words equal one of
the list name's *accepted forms*, built from the name as printed and from the
name with its bracketed parts removed:

1. the whole name; and any cut of it at a word boundary at or after the
   first *qualifier word* (:data:`QUALIFIERS`: INCLUDES, INCLUDING, WITH,
   WITHOUT, CONTAINING, SEE, ...; FOR only right after a comma; never the
   first word), so "GASOLINE" matches "Gasoline includes gasoline mixed with
   ethyl alcohol..." and "AMMONIUM NITRATE" matches "Ammonium nitrate, with
   not more than 0.2% combustible substances...";
2. each " or " alternative of the part before the first qualifier word
   ("Paint or paint related material" gives PAINT and PAINT RELATED MATERIAL);
   the last alternative may run on into the qualifier text as in rule 1. An
   " or " after a qualifier word ("...thinning, drying, removing, or reducing
   compound") is part of the qualifier and gives no alternative;
3. each bracketed part that does not begin with a qualifier word, taken as an
   alternative name (ETHYL ALCOHOL).

A declared name can so omit qualifying text, but never name words the list
does not have in that place: a cut is always a prefix of a listed name.
Word order is not folded ("AQUEOUS SOLUTION OF X" does not match "X,
AQUEOUS SOLUTION").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Final

QUALIFIERS: Final = frozenset(
    {
        "INCLUDES",
        "INCLUDING",
        "WITH",
        "WITHOUT",
        "CONTAINING",
        "HAVING",
        "EACH",
        "NOT",
        "RELATIVE",
        "WHICH",
        "WHEN",
        "OTHER",
        "EXCEPT",
        "SEE",
    }
)
"""Words that open qualifying text in list names."""
AFTER_COMMA_QUALIFIERS: Final = frozenset({"FOR"})
"""Words that open qualifying text only right after a comma ("..., for blasting"),
not inside a name ("CARTRIDGES FOR WEAPONS")."""

_TOKENS: Final = re.compile(r"[A-Z0-9]+|%|,")
_SPELLINGS: Final = (
    ("SULPH", "SULF"),
    ("ALUMINIUM", "ALUMINUM"),
    ("CAESIUM", "CESIUM"),
    ("VAPOUR", "VAPOR"),
    ("FIBRE", "FIBER"),
)


def _ascii_upper(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return text.upper()


def _tokens(text: str) -> tuple[list[str], set[int]]:
    """Upper-case words of ``text`` (N O S joined, % spelt out) and the indexes of
    the words that follow a comma."""
    words: list[str] = []
    after_comma: set[int] = set()
    comma = False
    raw = _TOKENS.findall(_ascii_upper(text))
    i = 0
    while i < len(raw):
        token = raw[i]
        if token == ",":
            comma = True
            i += 1
            continue
        if comma:
            after_comma.add(len(words))
            comma = False
        if raw[i : i + 3] == ["N", "O", "S"]:
            words.append("NOS")
            i += 3
            continue
        words.append("PERCENT" if token == "%" else token)
        i += 1
    return words, after_comma


def _words(text: str) -> list[str]:
    """Upper-case words of ``text``, with N O S joined and % spelt out."""
    return _tokens(text)[0]


@lru_cache(maxsize=8192)
def fold(word: str) -> str:
    """A word with British spelling and plural folded."""
    for old, new in _SPELLINGS:
        if old in word:
            word = word.replace(old, new)
    if len(word) < 4 or word.isdigit():
        return word
    if word.endswith("IES"):
        return word[:-3] + "Y"
    if word.endswith(("SES", "XES", "CHES", "SHES")):
        return word[:-2]
    if word.endswith("S") and not word.endswith(("SS", "US", "IS")):
        return word[:-1]
    return word


@lru_cache(maxsize=8192)
def normalise(name: str) -> tuple[str, ...]:
    """The normalised words of a name."""
    return tuple(fold(w) for w in _words(name))


def _split_brackets(name: str) -> tuple[str, list[str]]:
    """The name without top-level bracketed parts, and those parts."""
    outside: list[str] = []
    inside: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in name:
        if ch in "([":
            if depth == 0:
                outside.append(" ")
                current = []
            else:
                current.append(ch)
            depth += 1
        elif ch in ")]" and depth:
            depth -= 1
            if depth == 0:
                inside.append("".join(current))
            else:
                current.append(ch)
        elif depth:
            current.append(ch)
        else:
            outside.append(ch)
    if depth:
        inside.append("".join(current))
    return "".join(outside), inside


def _qualifier_at(words: list[str], after_comma: set[int]) -> int:
    for i in range(1, len(words)):
        if words[i] in QUALIFIERS or (words[i] in AFTER_COMMA_QUALIFIERS and i in after_comma):
            return i
    return len(words)


def _forms_of(text: str, forms: set[tuple[str, ...]]) -> None:
    words, after_comma = _tokens(text)
    if not words:
        return
    cut = _qualifier_at(words, after_comma)
    folded = [fold(w) for w in words]
    for j in range(cut, len(folded) + 1):
        forms.add(tuple(folded[:j]))
    alternatives: list[list[str]] = [[]]
    for w in folded[:cut]:
        if w == "OR":
            alternatives.append([])
        else:
            alternatives[-1].append(w)
    if len(alternatives) == 1:
        return
    for alternative in alternatives[:-1]:
        if alternative:
            forms.add(tuple(alternative))
    last = alternatives[-1] + folded[cut:]
    for j in range(max(len(alternatives[-1]), 1), len(last) + 1):
        forms.add(tuple(last[:j]))


@lru_cache(maxsize=8192)
def accepted_forms(list_name: str) -> frozenset[tuple[str, ...]]:
    """Every normalised word sequence that counts as ``list_name`` (see module doc)."""
    forms: set[tuple[str, ...]] = set()
    outside, inside = _split_brackets(list_name)
    _forms_of(list_name, forms)
    _forms_of(outside, forms)
    for part in inside:
        words = _words(part)
        if words and words[0] not in QUALIFIERS:
            forms.add(tuple(fold(w) for w in words))
    forms.discard(())
    return frozenset(forms)


def name_matches(declared: str, list_name: str) -> bool:
    """Whether a declared proper shipping name is an accepted form of ``list_name``."""
    return normalise(declared) in accepted_forms(list_name)
