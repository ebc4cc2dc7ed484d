"""Hypothesis strategies shared by the test modules."""

from __future__ import annotations

import contextlib
import functools
import itertools
import struct
from dataclasses import dataclass
from typing import Any, Final

from hypothesis import strategies as st

from ledger.block import MAX_BLOCK_TXS
from ledger.crypto import SigningKey
from ledger.encoding import INT_MAX, INT_MIN, sha256
from ledger.tx import MAX_SIGNATURES, MAX_TX_SIZE
from ledger.votes import MAX_ROUND

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=INT_MIN, max_value=INT_MAX),
    st.text(max_size=40),
    st.binary(max_size=40),
)

values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.dictionaries(st.text(max_size=12), children, max_size=6),
    ),
    max_leaves=30,
)


# -- canonical values with their edge cases -------------------------------------------------

NUMBER_BOUNDARIES: list[int] = [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, INT_MAX]
NUMBER_BOUNDARIES += [-1, -32, -33, -128, -129, -32768, -32769, -(2**31), -(2**31) - 1, INT_MIN]
"""Where MessagePack changes integer header."""

LENGTH_BOUNDARIES: list[int] = [0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536]
"""Where MessagePack changes string, binary, array or map header."""

boundary_ints = st.sampled_from(NUMBER_BOUNDARIES)

tricky_text = st.text(
    alphabet=st.sampled_from(["a", "z", "é", "\u07ff", "\u0800", "\ue000", "\uffff", "😀", "\x00"]),
    max_size=6,
)
"""Text whose order by UTF-16 code units differs from its order by UTF-8 bytes."""

edge_values: st.SearchStrategy[Any] = st.recursive(
    st.one_of(scalars, boundary_ints, tricky_text),
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=12), tricky_text), children, max_size=6),
    ),
    max_leaves=40,
)
"""Values of the canonical model, tuples and header boundaries included."""


# -- values outside the model, and MessagePack spelled loosely ------------------------------


@dataclass(frozen=True)
class Ext:
    """A MessagePack extension value (code -1 is a timestamp), for :func:`loose_packings`."""

    code: int
    data: bytes


_wild_keys = st.one_of(
    st.text(max_size=8),
    st.integers(-5, 5),
    st.binary(max_size=4),
    st.none(),
    st.booleans(),
    st.tuples(st.integers(0, 3)),
)


wild_values: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        scalars,
        boundary_ints,
        st.integers(INT_MAX + 1, 2**64 - 1),
        st.floats(allow_nan=False),
        st.builds(Ext, st.sampled_from([-1, 0, 1, 127, -128]), st.binary(max_size=17)),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(_wild_keys, children, max_size=5),
    ),
    max_leaves=25,
)
"""Values MessagePack can hold but the model refuses some of: floats, integers above
INT_MAX, extension values, keys that are not strings (as well as model values)."""


def _int_forms(n: int) -> list[bytes]:
    """Every MessagePack spelling of the integer ``n``, the shortest first."""
    forms = []
    if -32 <= n < 128:
        forms.append(struct.pack(">b" if n < 0 else ">B", n))
    for fmt, marker in ((">B", 0xCC), (">H", 0xCD), (">I", 0xCE), (">Q", 0xCF)):
        if 0 <= n < 256 ** struct.calcsize(fmt):
            forms.append(bytes([marker]) + struct.pack(fmt, n))
    for fmt, marker in ((">b", 0xD0), (">h", 0xD1), (">i", 0xD2), (">q", 0xD3)):
        bound = 1 << (8 * struct.calcsize(fmt) - 1)
        if -bound <= n < bound:
            forms.append(bytes([marker]) + struct.pack(fmt, n))
    if abs(n) < 2**53:  # the same number as a float64, then float32 when it is exact
        forms.append(b"\xcb" + struct.pack(">d", n))
        if abs(n) < 2**24:
            forms.append(b"\xca" + struct.pack(">f", n))
    return forms


def _sized_forms(
    size: int, fix: tuple[int, int] | None, sized: tuple[tuple[int, str], ...]
) -> list[bytes]:
    """Headers for a length ``size``: the fix form (base, limit) if it fits, then the sized ones."""
    forms = []
    if fix is not None and size < fix[1]:
        forms.append(bytes([fix[0] | size]))
    for marker, fmt in sized:
        if size < 256 ** struct.calcsize(fmt):
            forms.append(bytes([marker]) + struct.pack(fmt, size))
    return forms


_Headers = tuple[tuple[int, int] | None, tuple[tuple[int, str], ...]]
_STR_HEADERS: Final[_Headers] = ((0xA0, 32), ((0xD9, ">B"), (0xDA, ">H"), (0xDB, ">I")))
_BIN_HEADERS: Final[_Headers] = (None, ((0xC4, ">B"), (0xC5, ">H"), (0xC6, ">I")))
_ARRAY_HEADERS: Final[_Headers] = ((0x90, 16), ((0xDC, ">H"), (0xDD, ">I")))
_MAP_HEADERS: Final[_Headers] = ((0x80, 16), ((0xDE, ">H"), (0xDF, ">I")))


def _pack_key(key: Any) -> bytes:
    """A map key in its shortest spelling, the order canonical maps sort strings by."""
    return key.encode("utf-8", "surrogatepass") if type(key) is str else repr(key).encode()


@st.composite
def loose_packings(draw: st.DrawFn, value: Any, max_loose: int = 3) -> bytes:
    """MessagePack for ``value``, spelled canonically except at up to ``max_loose`` nodes.

    At a loose node the spelling is another one MessagePack allows: a longer
    header than needed, an integer as a float, a str as bin or the other way,
    a map's keys out of order or one key twice. ``value`` may hold anything
    :data:`wild_values` holds. With no loose node the bytes are the canonical
    encoding (of a model value).
    """
    nodes = _count(value)
    loose = draw(st.sets(st.integers(0, nodes - 1), max_size=max_loose)) if nodes else set()
    order = itertools.count()

    def pick(forms: list[bytes], at: int) -> bytes:
        return draw(st.sampled_from(forms)) if at in loose else forms[0]

    def pack(v: Any) -> bytes:
        at = next(order)
        kind = type(v)
        if v is None or kind is bool:
            return {None: b"\xc0", False: b"\xc2", True: b"\xc3"}[v]
        if kind is int:
            return pick(_int_forms(v), at)
        if kind is float:
            forms = [b"\xcb" + struct.pack(">d", v)]
            with contextlib.suppress(OverflowError):  # beyond float32's range
                if struct.unpack(">f", struct.pack(">f", v))[0] == v:
                    forms.append(b"\xca" + struct.pack(">f", v))
            return pick(forms, at)
        if kind is str or kind is bytes:
            raw = v.encode("utf-8", "surrogatepass") if kind is str else v
            forms = [h + raw for h in _sized_forms(len(raw), *_header_set(kind))]
            other: type = bytes if kind is str else str
            if kind is str or _is_utf8(raw):
                forms += [h + raw for h in _sized_forms(len(raw), *_header_set(other))]
            return pick(forms, at)
        if kind is Ext:
            return _pack_ext(v)
        if kind is list or kind is tuple:
            body = b"".join(pack(item) for item in v)
            return pick(_sized_forms(len(v), *_ARRAY_HEADERS), at) + body
        items = sorted(v.items(), key=lambda kv: _pack_key(kv[0]))
        if at in loose and items:
            items = draw(st.permutations(items))
            if draw(st.booleans()):
                items.append(draw(st.sampled_from(items)))
        body = b"".join(pack(k) + pack(item) for k, item in items)
        return pick(_sized_forms(len(items), *_MAP_HEADERS), at) + body

    return pack(value)


def _header_set(kind: type) -> _Headers:
    return _STR_HEADERS if kind is str else _BIN_HEADERS


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


def _pack_ext(ext: Ext) -> bytes:
    code = struct.pack(">b", ext.code)
    fixed = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}
    if len(ext.data) in fixed:
        return bytes([fixed[len(ext.data)]]) + code + ext.data
    return b"\xc7" + bytes([len(ext.data)]) + code + ext.data


def _count(value: Any) -> int:
    """Nodes of ``value`` as :func:`loose_packings` numbers them (map keys included)."""
    if type(value) in (list, tuple):
        return 1 + sum(map(_count, value))
    if type(value) is dict:
        return 1 + sum(_count(k) + _count(v) for k, v in value.items())
    return 1


@st.composite
def mutations(draw: st.DrawFn, data: bytes, max_edits: int = 3) -> bytes:
    """``data`` with one to ``max_edits`` byte edits: replaced, inserted, deleted, cut or added."""
    raw = bytearray(data)
    for _ in range(draw(st.integers(1, max_edits))):
        op = draw(st.sampled_from(["replace", "insert", "delete", "cut", "append"]))
        i = draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "replace" and raw:
            raw[i] = draw(st.integers(0, 255))
        elif op == "insert":
            raw.insert(i, draw(st.integers(0, 255)))
        elif op == "delete" and len(raw) > 1:
            del raw[i]
        elif op == "cut" and len(raw) > 1:
            del raw[max(i, 1) :]
        else:
            raw += draw(st.binary(min_size=1, max_size=3))
    return bytes(raw)


# -- transactions and blocks near the edge of what decodes ----------------------------------

_other_types = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.binary(max_size=3),
    st.floats(allow_nan=False),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(0, 3), max_size=2),
)


def texts_around(lo: int, hi: int) -> st.SearchStrategy[str]:
    """Strings of ``lo`` - 1, ``lo``, ``hi`` and ``hi`` + 1 characters of one to four bytes."""
    sizes = st.sampled_from([n for n in (lo - 1, lo, hi, hi + 1) if n >= 0])
    return st.builds(lambda n, c: c * n, sizes, st.sampled_from(["a", "é", "😀"]))


def ints_around(lo: int, hi: int) -> st.SearchStrategy[int]:
    """Integers at and just past ``lo`` and ``hi``, as far as MessagePack can hold them."""
    return st.sampled_from([n for n in (lo - 1, lo, hi, hi + 1) if INT_MIN <= n < 2**64])


def field_values(
    valid: st.SearchStrategy[Any], edges: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """A field's value: valid, at an edge of its range, or of another type."""
    return st.one_of(valid, edges, _other_types)


@st.composite
def reshaped_maps(
    draw: st.DrawFn, base: dict[str, Any], fields: dict[str, st.SearchStrategy[Any]]
) -> dict[str, Any]:
    """``base`` with up to two fields redrawn from ``fields``, and a key maybe dropped or added."""
    value = dict(base)
    if fields:
        for name in draw(st.lists(st.sampled_from(sorted(fields)), max_size=2, unique=True)):
            value[name] = draw(fields[name])
    change = draw(st.sampled_from(["none", "none", "none", "none", "drop", "add"]))
    if change == "drop":
        del value[draw(st.sampled_from(sorted(value)))]
    elif change == "add":
        value[draw(st.sampled_from(["extra", "", "sig", "bodyx"]))] = 0
    return value


@st.composite
def spellings(draw: st.DrawFn, value: Any) -> bytes:
    """``value`` as MessagePack: canonical, spelled loosely, or with its bytes edited."""
    how = draw(st.sampled_from(["canonical", "canonical", "canonical", "loose", "edited"]))
    data = draw(loose_packings(value, max_loose=0 if how == "canonical" else 2))
    return draw(mutations(data)) if how == "edited" else data


@functools.cache
def signing_keys(n: int) -> tuple[SigningKey, ...]:
    """``n`` fixed keys, sorted by public key."""
    keys = (SigningKey.from_seed(sha256(f"strategies-{i}".encode())) for i in range(n))
    return tuple(sorted(keys, key=lambda k: k.public.raw))


def _nested(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


# A body sits at depth 1 of its envelope: these straddle the depth limit of 32.
_deep_bodies = st.integers(28, 33).map(lambda n: {"d": _nested(n)})
_bodies = st.dictionaries(st.one_of(st.text(max_size=8), tricky_text), edge_values, max_size=5)


@st.composite
def signature_lists(draw: st.DrawFn, signers: list[SigningKey]) -> Any:
    """The ``sigs`` of a wire form for ``signers``: as they must be, or one thing wrong."""
    sig = st.binary(min_size=64, max_size=64)
    sigs: list[Any] = [[k.public.raw, draw(sig)] for k in sorted(signers, key=_raw)]
    fault = draw(
        st.sampled_from(
            [
                "none",
                "none",
                "none",
                "unsorted",
                "twice",
                "empty",
                "too many",
                "bad key",
                "key size",
                "sig size",
                "arity",
                "not a pair",
                "not a list",
            ]
        )
    )
    if fault == "unsorted" and len(sigs) > 1:
        sigs.reverse()
    elif fault == "twice":
        sigs.append(sigs[0])
    elif fault == "empty":
        sigs = []
    elif fault == "too many":
        sigs = [[k.public.raw, draw(sig)] for k in signing_keys(MAX_SIGNATURES + 1)]
    elif fault == "bad key":
        sigs[0][0] = draw(st.binary(min_size=32, max_size=32))
    elif fault == "key size":
        sigs[0][0] = sigs[0][0][: draw(st.sampled_from([0, 31]))] + b"\x00" * draw(
            st.integers(0, 2)
        )
    elif fault == "sig size":
        sigs[0][1] = draw(st.binary(min_size=63, max_size=65).filter(lambda s: len(s) != 64))
    elif fault == "arity":
        pub, signature = sigs[0]
        sigs[0] = draw(st.sampled_from([[], [pub], [pub, signature, b""]]))
    elif fault == "not a pair":
        sigs[0] = draw(_other_types)
    elif fault == "not a list":
        return draw(_other_types)
    return sigs


def _raw(key: SigningKey) -> bytes:
    return key.public.raw


@st.composite
def transaction_wires(draw: st.DrawFn) -> bytes:
    """Bytes close to a transaction's wire form: valid, or off by a field, a signature or a byte."""
    keys = signing_keys(6)
    signers = draw(st.lists(st.sampled_from(keys[:4]), min_size=1, max_size=4, unique=True))
    envelope = {
        "chain": "dg-ledger-test",
        "type": "test.note",
        "signer": signers[0].public.key_id,
        "nonce": 1,
        "body": draw(_bodies),
        "expires": 100,
    }
    names = st.text(min_size=1, max_size=64)
    counters = field_values(st.integers(1, INT_MAX), ints_around(1, INT_MAX))
    envelope = draw(
        reshaped_maps(
            envelope,
            {
                "chain": field_values(names, texts_around(1, 64)),
                "type": field_values(names, texts_around(1, 64)),
                "signer": field_values(
                    st.sampled_from([k.public.key_id for k in keys]), texts_around(40, 40)
                ),
                "nonce": counters,
                "expires": counters,
                "body": field_values(_bodies, st.one_of(_deep_bodies, wild_values)),
            },
        )
    )
    env = draw(spellings(envelope))
    wire = {"env": env, "sigs": draw(signature_lists(signers))}
    wire = draw(reshaped_maps(wire, {"env": field_values(st.just(env), st.binary(max_size=3))}))
    return draw(spellings(wire))


@st.composite
def block_encodings(draw: st.DrawFn, block: dict[str, Any]) -> bytes:
    """Bytes close to ``block`` (a block value): valid, or its header, transactions or
    certificate off by a field or an item, or its bytes edited."""
    value = dict(block)
    area = draw(st.sampled_from(["none", "header", "txs", "last_commit", "shape"]))
    if area == "header":
        value["header"] = draw(st.one_of(_headers(block["header"]), _other_types))
    elif area == "txs":
        value["txs"] = draw(_transaction_lists(block["txs"]))
    elif area == "last_commit":
        value["last_commit"] = draw(
            st.one_of(_certificates(block["last_commit"]), st.none(), _deep_bodies, wild_values)
        )
    elif area == "shape":
        value = draw(reshaped_maps(value, {}))
    return draw(spellings(value))


def _headers(header: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    hashes = field_values(st.binary(min_size=32, max_size=32), st.binary(min_size=31, max_size=33))
    counts = field_values(st.integers(0, INT_MAX), ints_around(0, INT_MAX))
    fields = {name: hashes for name, value in header.items() if type(value) is bytes}
    fields |= {
        "chain": field_values(st.text(min_size=1, max_size=64), texts_around(1, 64)),
        "height": field_values(st.integers(1, INT_MAX), ints_around(1, INT_MAX)),
        "time": counts,
        "log_size": counts,
        "proposer": field_values(st.just(header["proposer"]), texts_around(40, 40)),
    }
    return reshaped_maps(header, fields)


@st.composite
def _transaction_lists(draw: st.DrawFn, txs: list[bytes]) -> Any:
    txs = list(txs)
    fault = draw(st.sampled_from(["edited", "other", "oversize", "too many", "not a list"]))
    if fault == "edited":
        i = draw(st.integers(0, len(txs) - 1))
        txs[i] = draw(mutations(txs[i]))
    elif fault == "other":
        txs[draw(st.integers(0, len(txs) - 1))] = draw(_other_types)
    elif fault == "oversize":
        txs.append(b"\x00" * (MAX_TX_SIZE + 1))
    elif fault == "too many":
        txs = [b""] * (MAX_BLOCK_TXS + 1)
    else:
        return draw(_other_types)
    return txs


def _certificates(commit: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return reshaped_maps(
        commit,
        {
            "height": field_values(st.just(commit["height"]), ints_around(1, INT_MAX)),
            "round": field_values(st.integers(0, 3), ints_around(0, MAX_ROUND)),
            "block": field_values(st.just(commit["block"]), st.binary(min_size=31, max_size=33)),
            "sigs": st.one_of(
                st.just(commit["sigs"]), st.just(commit["sigs"][::-1]), _other_types, wild_values
            ),
        },
    )
