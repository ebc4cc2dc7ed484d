"""Transactions, certificates, blocks and replay, with real signatures."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.block import Block, Header
from ledger.crypto import Domain, Verifier
from ledger.encoding import decode
from ledger.errors import CertificateError, LedgerError, ReplayError, SchemaError
from ledger.replay import replay
from ledger.tx import Envelope, Transaction
from ledger.votes import Certificate, Vote, VoteType
from tests.ledger.chainmaker import (
    CHAIN,
    CLIENT,
    VALIDATOR_KEYS,
    ChainMaker,
    HashChainMachine,
    key,
    make_chain,
)

VERIFIER = Verifier(workers=2)


def test_transaction_round_trip_and_id() -> None:
    env = Envelope(CHAIN, "test.note", CLIENT.public.key_id, 1, {"a": [1, "x"]}, 99)
    tx = Transaction.create(env, [CLIENT])
    again = Transaction.decode(tx.wire)
    assert again.id == tx.id
    assert again.body == {"a": [1, "x"]}
    again.verify(VERIFIER)


def test_transaction_id_ignores_who_signed() -> None:
    other = key("other")
    env = Envelope(CHAIN, "governance", CLIENT.public.key_id, 1, {}, 99)
    one = Transaction.create(env, [CLIENT])
    two = Transaction.create(env, [CLIENT, other])
    assert one.id == two.id
    assert one.wire != two.wire
    assert len(two.signatures) == 2


def test_signer_must_have_signed() -> None:
    env = Envelope(CHAIN, "test.note", CLIENT.public.key_id, 1, {}, 99)
    with pytest.raises(SchemaError, match="signer"):
        Transaction.create(env, [key("someone-else")])


def test_signature_bound_to_chain() -> None:
    env = Envelope(CHAIN, "test.note", CLIENT.public.key_id, 1, {}, 99)
    tx = Transaction.create(env, [CLIENT])
    other_env = Envelope("other-chain", "test.note", CLIENT.public.key_id, 1, {}, 99)
    forged = Transaction._assemble(other_env, other_env.encode(), tx.signatures)
    with pytest.raises(LedgerError):
        forged.verify(VERIFIER)


@settings(max_examples=60)
@given(st.data())
def test_any_byte_flip_of_a_transaction_is_caught(data: st.DataObject) -> None:
    env = Envelope(CHAIN, "test.note", CLIENT.public.key_id, 7, {"k": "v"}, 99)
    wire = bytearray(Transaction.create(env, [CLIENT]).wire)
    i = data.draw(st.integers(0, len(wire) - 1))
    wire[i] ^= data.draw(st.integers(1, 255))
    with pytest.raises(LedgerError):
        Transaction.decode(bytes(wire)).verify(VERIFIER)


def test_certificate_needs_more_than_two_thirds() -> None:
    maker = make_chain(1)
    block = maker.blocks[0]
    validators = maker.genesis.validators
    three = maker.certify(block, signers=VALIDATOR_KEYS[:3])
    three.verify(CHAIN, validators, VERIFIER, height=1, block_hash=block.hash)
    two = maker.certify(block, signers=VALIDATOR_KEYS[:2])
    with pytest.raises(CertificateError, match="two thirds"):
        two.verify(CHAIN, validators, VERIFIER, height=1, block_hash=block.hash)


def test_certificate_refuses_outsiders_wrong_height_hash_chain_and_bad_signatures() -> None:
    maker = make_chain(1)
    block = maker.blocks[0]
    validators = maker.genesis.validators
    cert = maker.certificates[0]
    with pytest.raises(CertificateError):
        cert.verify(CHAIN, validators, VERIFIER, height=2, block_hash=block.hash)
    with pytest.raises(CertificateError):
        cert.verify(CHAIN, validators, VERIFIER, height=1, block_hash=b"\x01" * 32)
    with pytest.raises(CertificateError):
        cert.verify("another-chain", validators, VERIFIER, height=1, block_hash=block.hash)
    outsider = Vote.sign(key("outsider"), CHAIN, VoteType.PRECOMMIT, 1, 0, block.hash)
    with pytest.raises(CertificateError, match="not in the validator set"):
        Certificate.from_votes([outsider]).verify(
            CHAIN, validators, VERIFIER, height=1, block_hash=block.hash
        )
    sigs = list(cert.signatures)
    sigs[0] = (sigs[0][0], bytes(64))
    bad = dataclasses.replace(cert, signatures=tuple(sigs))
    with pytest.raises(CertificateError, match="does not verify"):
        bad.verify(CHAIN, validators, VERIFIER, height=1, block_hash=block.hash)


def test_certificate_with_duplicate_signer_refused_on_decode() -> None:
    maker = make_chain(1)
    value = maker.certificates[0].to_value()
    value["sigs"] = [value["sigs"][0], value["sigs"][0], value["sigs"][1]]
    with pytest.raises(SchemaError, match="twice"):
        Certificate.from_value(value)


def test_prevote_signature_is_not_a_precommit() -> None:
    maker = make_chain(1)
    block = maker.blocks[0]
    votes = [Vote.sign(k, CHAIN, VoteType.PREVOTE, 1, 0, block.hash) for k in VALIDATOR_KEYS]
    forged = Certificate(1, 0, block.hash, tuple(sorted((v.validator, v.signature) for v in votes)))
    with pytest.raises(CertificateError):
        forged.verify(CHAIN, maker.genesis.validators, VERIFIER, height=1, block_hash=block.hash)


def test_block_round_trip() -> None:
    maker = make_chain(3)
    for block in maker.blocks:
        again = Block.decode(block.encode())
        assert again.hash == block.hash
        assert again.encode() == block.encode()


def test_header_round_trip_and_shape_errors() -> None:
    header = make_chain(1).blocks[0].header
    assert Header.from_value(decode(header.encode())) == header
    broken = header.to_value()
    broken["height"] = -1
    with pytest.raises(SchemaError, match="height"):
        Header.from_value(broken)
    del broken["height"]
    with pytest.raises(SchemaError, match="missing"):
        Header.from_value(broken)


def pairs(maker: ChainMaker) -> list[tuple[Block, Certificate | None]]:
    return list(zip(maker.blocks, maker.certificates, strict=True))


def test_replay_accepts_a_sound_chain() -> None:
    maker = make_chain(6)
    machine = HashChainMachine(maker.genesis.validators)
    summary = replay(maker.genesis, pairs(maker), machine, VERIFIER)
    assert summary.height == 6
    assert summary.transactions == 18
    assert summary.tip_hash == maker.blocks[-1].hash


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("prev_hash", b"\x02" * 32, "prev_hash"),
        ("time", 0, "time"),
        ("log_size", 99, "log_size"),
        ("log_root", b"\x03" * 32, "log_root"),
        ("state_root", b"\x04" * 32, "state_root"),
        ("txs_root", b"\x05" * 32, "txs_root"),
        ("validators_hash", b"\x06" * 32, "validators_hash"),
        ("chain", "x", "chain"),
    ],
)
def test_replay_names_the_first_bad_block(field: str, value: object, reason: str) -> None:
    maker = make_chain(5)
    blocks = list(maker.blocks)
    bad = blocks[2]
    header = Header(**{**bad.header.to_value(), field: value})
    blocks[2] = Block(header, bad.txs, bad.last_commit)
    machine = HashChainMachine(maker.genesis.validators)
    with pytest.raises(ReplayError) as info:
        replay(maker.genesis, [(b, None) for b in blocks], machine, VERIFIER)
    assert info.value.height == 3
    assert reason in str(info.value)


def test_replay_catches_a_tampered_transaction_with_its_index() -> None:
    maker = make_chain(3)
    blocks = list(maker.blocks)
    victim = blocks[1]
    tx = victim.txs[1]
    sigs = (dataclasses.replace(tx.signatures[0], signature=bytes(64)),)
    forged = Transaction(tx.envelope, tx.env_bytes, sigs, tx.id, tx.wire)
    blocks[1] = Block(victim.header, (victim.txs[0], forged, victim.txs[2]), victim.last_commit)
    with pytest.raises(ReplayError) as info:
        replay(
            maker.genesis,
            [(b, None) for b in blocks],
            HashChainMachine(maker.genesis.validators),
            VERIFIER,
        )
    assert (info.value.height, info.value.tx_index) == (2, 1)


def test_replay_catches_a_forged_certificate() -> None:
    maker = make_chain(3)
    blocks = list(maker.blocks)
    victim = blocks[2]
    weak = maker.certify(blocks[1], signers=VALIDATOR_KEYS[:2])
    blocks[2] = Block(victim.header, victim.txs, weak)
    with pytest.raises(ReplayError, match="certificate of block 2"):
        replay(
            maker.genesis,
            [(b, None) for b in blocks],
            HashChainMachine(maker.genesis.validators),
            VERIFIER,
        )


def test_replay_checks_the_final_certificate() -> None:
    maker = make_chain(2)
    weak = maker.certify(maker.blocks[-1], signers=VALIDATOR_KEYS[:1])
    with pytest.raises(ReplayError, match="certificate held for the block") as info:
        replay(
            maker.genesis,
            [(maker.blocks[0], None), (maker.blocks[1], weak)],
            HashChainMachine(maker.genesis.validators),
            VERIFIER,
        )
    assert info.value.height == 2


def test_replay_checks_every_certificate_it_is_given() -> None:
    # The next block's last_commit proves block 1; a bad certificate held for it still fails.
    maker = make_chain(3)
    weak = maker.certify(maker.blocks[0], signers=VALIDATOR_KEYS[:1])
    good = maker.certify(maker.blocks[2])
    with pytest.raises(ReplayError, match="certificate held for the block") as info:
        replay(
            maker.genesis,
            [(maker.blocks[0], weak), (maker.blocks[1], None), (maker.blocks[2], good)],
            HashChainMachine(maker.genesis.validators),
            VERIFIER,
        )
    assert info.value.height == 1


def test_sign_bytes_separate_domains() -> None:
    h = b"\x00" * 32
    sig = CLIENT.sign(Domain.TX, CHAIN, h)
    assert sig != CLIENT.sign(Domain.VOTE, CHAIN, h)
    CLIENT.public.verify(Domain.TX, CHAIN, h, sig)
    with pytest.raises(LedgerError):
        CLIENT.public.verify(Domain.VOTE, CHAIN, h, sig)


def test_envelope_body_must_be_a_map() -> None:
    with pytest.raises(SchemaError, match="map"):
        Envelope(CHAIN, "test.note", CLIENT.public.key_id, 1, [["a", 1]], 99)  # type: ignore[arg-type]


def test_block_decode_takes_known_transactions_by_their_bytes() -> None:
    block = make_chain(1, txs_per_block=4).blocks[0]
    first = block.txs[0]
    known = {first.wire: first}
    again = Block.decode(block.encode(), known=known)
    assert again == block
    assert again.txs[0] is first
    assert again.txs[1] is not block.txs[1]
    assert Block.decode(block.encode()) == again
