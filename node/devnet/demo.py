"""``dgledger demo``: a port community on loopback, from genesis to audit.

Starts four validators (customs, port authority, two forwarders) on LevelDB
under a temporary directory, for a network serving HAROPA's corridor (Le
Havre, Rouen, Paris) whose declarations are due a day before departure;
three shippers submit realistic declarations
across all nine classes, plus a share of invalid ones that are refused with
their reasons; the port authority and customs decide; a declaration due too
late and a decision on a call outside the corridor are refused; one validator is
killed with SIGKILL mid-way and restarted; then every node's chain is
audited from genesis and compared, committed transactions are looked up
on every node, and a few declarations' receipts, each fetched from another
node, are verified from the genesis file alone. Every organisation has an
encryption key, so the shippers seal each declaration's consignee and
emergency contacts to those entitled to read it (``Member.send``, as a
member's client does); the receipts' sealed fields are opened with the
auditor's key and checked against the chain's digest, and a competing
shipper's key opens none of them. Exits 0 only if every check held; stops
every process it started.
"""

from __future__ import annotations

import argparse
import random
import ssl
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from contracts.dgl_builtin import builtin_list
from contracts.membership import Identity
from ledger.crypto import SigningKey
from ledger.genesis import Genesis
from ledger.keyfile import load_encryption_key, load_signing_key
from ledger.tx import Envelope, Transaction
from node.audit import audit, blocks_from_node
from node.client.client import DEFAULT_EXPIRES_AFTER, Client
from node.client.errors import ClientError, ReceiptError
from node.client.receipt import verify_receipt
from node.client.sealing import SealingError, open_with
from node.devnet.localnet import LocalNetwork
from node.devnet.traffic import TrafficGenerator
from node.genesis_file import load_genesis

SHIPPERS = ("shipper-acme", "shipper-beta", "shipper-gamma")
IDENTITIES: Final = {s: Identity(f"{s.split('-')[1].upper()} SA") for s in SHIPPERS}
"""The shippers' legal names, as the traffic names them (``TrafficGenerator.declaration``)."""
LEAD_TIME_HOURS: Final = 24
"""The demo network's lead time: declarations at least a day before departure."""


class Member:
    """A member organisation's key, submitting to one node."""

    def __init__(
        self, name: str, key: SigningKey, chain: str, url: str, tls: ssl.SSLContext
    ) -> None:
        self.name = name
        self.key = key
        self.chain = chain
        self.url = url
        self.nonce = 0
        self.height = 0
        """The latest height a commit answer named: expiries count from it."""
        self.lock = threading.Lock()
        self.http = httpx.Client(timeout=70.0, verify=tls)
        self.client = Client(url, chain, key, http=self.http)
        """Asks whom this member's declarations are sealed to, once, and seals them."""

    def send(self, type_: str, body: dict[str, Any]) -> dict[str, Any]:
        """Sign and submit, then wait for the commit; the JSON answer with its status code.

        Each transaction takes a nonce of its own (a counter, under the lock)
        and expires ``DEFAULT_EXPIRES_AFTER`` blocks above the latest height
        seen. A decision on a declaration the node has not applied yet
        (``declaration.unknown``: the submission was committed through
        another node a moment ago) is tried again. A submission's sensitive
        fields are sealed to this member's readers first.
        """
        if type_ == "declaration.submit":
            try:
                with self.lock:  # the client is not shared between threads
                    body = {**body, "declaration": self.client.seal(body["declaration"])}
            except ClientError as e:
                return {"http_status": 0, "error": {"code": e.code, "message": e.message}}
        for _ in range(10):
            with self.lock:
                self.nonce += 1
                nonce, expires = self.nonce, self.height + DEFAULT_EXPIRES_AFTER
            env = Envelope(self.chain, type_, self.key.public.key_id, nonce, body, expires)
            tx = Transaction.create(env, [self.key])
            answer = self._post(tx, wait=False)
            if answer["http_status"] == 202:
                answer = self._post(tx, wait=True)
            if type(answer.get("height")) is int:
                with self.lock:
                    self.height = max(self.height, answer["height"])
            code = answer.get("error", {}).get("code")
            if code != "declaration.unknown":
                return answer
            time.sleep(0.2)
        return answer

    def _post(self, tx: Transaction, *, wait: bool) -> dict[str, Any]:
        query = "?wait=commit" if wait else ""
        for attempt in range(20):
            try:
                response = self.http.post(
                    f"{self.url}/v1/transactions{query}",
                    content=tx.wire,
                    headers={"content-type": "application/msgpack"},
                )
            except httpx.HTTPError:
                time.sleep(0.2 * (attempt + 1))
                continue
            if response.status_code == 503:
                time.sleep(0.2 * (attempt + 1))
                continue
            answer: dict[str, Any] = response.json()
            answer["http_status"] = response.status_code
            answer.setdefault("tx_id", tx.id.hex())
            return answer
        return {"http_status": 0, "error": {"code": "unreachable"}, "tx_id": tx.id.hex()}


@dataclass
class Tally:
    """What happened, for the closing table."""

    committed: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    refused_as_expected: int = 0
    refused_unexpectedly: list[str] = field(default_factory=list)
    decisions: Counter[str] = field(default_factory=Counter)
    acknowledged: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _say(text: str) -> None:
    print(text, flush=True)


def run_demo(
    directory: Path,
    *,
    declarations: int = 60,
    invalid_share: float = 0.2,
    seed: int = 2026,
    say: Callable[[str], None] = _say,
) -> int:
    """Run the whole demo in ``directory``; return the exit status."""
    started = time.monotonic()
    dgl = builtin_list()
    # Departures from now on, past the lead time, whatever the day the demo runs.
    gen = TrafficGenerator(
        dgl, seed, base_time_ms=time.time_ns() // 1_000_000, lead_time_hours=LEAD_TIME_HOURS
    )
    rng = random.Random(seed)
    tally = Tally()
    say(f"dgledger demo: network in {directory}")
    with LocalNetwork(directory, identities=IDENTITIES, lead_time_hours=LEAD_TIME_HOURS) as net:
        genesis = load_genesis(net.genesis_path)
        net.start()
        say(f"  4 validators up: {', '.join(net.nodes)}")
        entry = list(net.nodes)
        members = {
            name: Member(
                name,
                load_signing_key(net.key_path(name)),
                genesis.chain,
                net.url(entry[i % 4]),
                net.tls,
            )
            for i, name in enumerate((*SHIPPERS, "port-authority", "customs"))
        }
        plan: list[tuple[str, dict[str, Any], str | None]] = []
        for i in range(declarations):
            shipper = SHIPPERS[i % len(SHIPPERS)]
            if rng.random() < invalid_share:
                doc, fault = gen.invalid(shipper.split("-")[1])
                plan.append((shipper, doc, fault))
            else:
                classes = (str(1 + i % 9),) if i < 9 else None
                plan.append(
                    (shipper, gen.declaration(shipper.split("-")[1], classes=classes), None)
                )

        def submit(item: tuple[str, dict[str, Any], str | None]) -> None:
            shipper, doc, fault = item
            answer = members[shipper].send("declaration.submit", {"declaration": doc})
            with tally.lock:
                if answer["http_status"] == 200 and answer.get("status") == "committed":
                    tally.committed["declarations"] += 1
                    tally.acknowledged.append(answer["tx_id"])
                    decide_queue.append((shipper, doc["declarationId"]))
                elif answer["http_status"] == 422:
                    code = answer["error"]["code"]
                    tally.refused[code] += 1
                    if fault is None:
                        tally.refused_unexpectedly.append(f"{doc['declarationId']}: {code}")
                    else:
                        tally.refused_as_expected += 1
                else:
                    tally.failures.append(f"submit {doc['declarationId']}: {answer}")

        decide_queue: list[tuple[str, str]] = []
        half = len(plan) // 2
        victim = "forwarder-b"
        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(submit, plan[:half]))
            say(
                f"  submitted {half} declarations: {tally.committed['declarations']} committed,"
                f" {sum(tally.refused.values())} refused"
            )
            net.kill(victim)
            say(f"  killed {victim} with SIGKILL")
            list(pool.map(submit, plan[half:]))
            say(f"  submitted {len(plan) - half} more with {victim} down")
            net.start(victim)
            say(f"  restarted {victim}")
            decided = _decide(members, decide_queue, rng, tally, pool)
            say(f"  decisions recorded: {decided}")
        impostor = _claim_another_name(members["shipper-beta"], gen, say)
        corridor = _corridor(members, gen, say)
        target = net.height(entry[0])
        net.wait_height(net.names, target)
        say(f"  all nodes at height >= {target}")
        auditor = load_signing_key(net.key_path("auditor"))
        lists = {dgl.digest(): dgl}
        tips = {}
        for name in net.nodes:
            try:
                blocks = blocks_from_node(net.url(name), name, genesis, auditor, verify=net.tls)
                report = audit(genesis, blocks, lists)
                tips[name] = (report.blocks, report.tip_hash)
                say(
                    f"  audit of {name}: SOUND, {report.blocks} blocks,"
                    f" {report.transactions} transactions"
                )
            except Exception as e:
                tally.failures.append(f"audit of {name}: {e}")
        checks = _checks(net, tally, tips, auditor)
        checks.append(impostor)
        checks.extend(corridor)
        checks.append(_verify_receipts(net, genesis, auditor, decide_queue, say))
    _table(say, tally, checks, time.monotonic() - started)
    return 0 if all(ok for _, ok in checks) and not tally.failures else 1


def _decide(
    members: dict[str, Member],
    ids: list[tuple[str, str]],
    rng: random.Random,
    tally: Tally,
    pool: ThreadPoolExecutor,
) -> int:
    port, customs = members["port-authority"], members["customs"]

    def one(declaration: tuple[str, str]) -> None:
        owner, decl_id = declaration
        steps = [(port, "accepted", "")]
        roll = rng.random()
        if roll < 0.6:
            steps += [(customs, "cleared", ""), (port, "loaded", "")]
        elif roll < 0.8:
            steps += [
                (customs, "held", "physical inspection"),
                (customs, "released", ""),
                (port, "loaded", ""),
            ]
        elif roll < 0.9:
            steps += [(customs, "refused", "documents do not match the cargo")]
        for member, decision, reason in steps:
            body = {"id": decl_id, "owner": owner, "decision": decision, "reason": reason}
            answer = member.send("declaration.decide", body)
            with tally.lock:
                if answer["http_status"] == 200 and answer.get("status") == "committed":
                    tally.decisions[decision] += 1
                    tally.acknowledged.append(answer["tx_id"])
                else:
                    tally.failures.append(f"decide {decl_id} {decision}: {answer.get('error')}")
                    return

    list(pool.map(one, list(ids)))
    return sum(tally.decisions.values())


def _claim_another_name(
    member: Member, gen: TrafficGenerator, say: Callable[[str], None]
) -> tuple[str, bool]:
    """shipper-beta declares with ACME SA as shipper: refused, ACME's identity being recorded."""
    doc = gen.declaration("acme")
    answer = member.send("declaration.submit", {"declaration": doc})
    code = answer.get("error", {}).get("code")
    say(f"  shipper-beta declaring in ACME SA's name: {answer['http_status']} {code}")
    refused = answer["http_status"] == 422 and code == "identity.shipper_mismatch"
    return "a declaration in another member's name refused", refused


def _refusal(answer: dict[str, Any]) -> str | None:
    """The code a refused (422) or rejected (committed, status rejected) answer gives."""
    if answer["http_status"] == 422:
        return str(answer.get("error", {}).get("code"))
    if answer["http_status"] == 200 and answer.get("status") == "rejected":
        violations = answer.get("result", {}).get("violations") or [{}]
        return str(violations[0].get("code"))
    return None


def _corridor(
    members: dict[str, Member], gen: TrafficGenerator, say: Callable[[str], None]
) -> list[tuple[str, bool]]:
    """Too late for the lead time; a call the port authority does not decide on."""
    shipper = members["shipper-gamma"]
    doc = gen.declaration("gamma")
    soon = time.gmtime(time.time() + 2 * 3600)
    doc["transport"]["estimatedDeparture"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", soon)
    late = _refusal(shipper.send("declaration.submit", {"declaration": doc}))
    say(f"  a declaration departing in 2 hours, lead time {LEAD_TIME_HOURS} hours: {late}")
    doc = gen.declaration("gamma")
    doc["transport"].update(portOfLoading="SGSIN", portOfDischarge="USNYC")
    answer = shipper.send("declaration.submit", {"declaration": doc})
    outside = None
    if answer["http_status"] == 200 and answer.get("status") == "committed":
        body = {"id": doc["declarationId"], "owner": "shipper-gamma", "decision": "accepted"}
        outside = _refusal(members["port-authority"].send("declaration.decide", body))
    say(f"  the port authority accepting a call from SGSIN to USNYC: {outside}")
    return [
        ("a declaration due within the lead time refused", late == "date.too_late"),
        ("no decision on a call outside the corridor", outside == "port.not_served"),
    ]


def _checks(
    net: LocalNetwork,
    tally: Tally,
    tips: dict[str, tuple[int, str]],
    auditor: SigningKey,
) -> list[tuple[str, bool]]:
    checks = [
        ("every node's chain audits SOUND", len(tips) == len(net.nodes)),
        ("invalid declarations refused with their reasons", tally.refused_as_expected > 0),
        ("no valid declaration refused", not tally.refused_unexpectedly),
        ("declarations across all nine classes committed", tally.committed["declarations"] >= 9),
    ]
    statuses = [net.status(n) for n in net.nodes]
    same = None not in statuses and len({(s["height"], s["tip"]) for s in statuses if s}) == 1
    checks.append(("all nodes hold the same tip", same))
    present = True
    genesis = load_genesis(net.genesis_path)
    wanted = set(tally.acknowledged)
    for name in net.nodes:
        held = {
            tx.id.hex()
            for block, _ in blocks_from_node(net.url(name), name, genesis, auditor, verify=net.tls)
            for tx in block.txs
        }
        present = present and wanted <= held
    checks.append(("acknowledged transactions present on every node", present))
    return checks


def _verify_receipts(
    net: LocalNetwork,
    genesis: Genesis,
    auditor: SigningKey,
    ids: list[tuple[str, str]],
    say: Callable[[str], None],
    count: int = 3,
) -> tuple[str, bool]:
    """Fetch a few declarations' receipts, each from another node, and check them from genesis.

    Each one's sealed fields are opened with the auditor's encryption key and
    checked against the proven digest; another shipper's key opens none.
    """
    what = "receipts verify from genesis alone; sealed fields open for their readers only"
    if not ids:
        return what, False
    enc = {
        org: load_encryption_key(net.key_path(org).with_name(f"{org}.enc.pem"))
        for org in ("auditor", *SHIPPERS)
    }
    for i, (owner, decl_id) in enumerate(sorted(ids)[:count]):
        name = list(net.nodes)[i % len(net.nodes)]
        try:
            with Client.connect(net.url(name), auditor, ca=net.ca) as client:
                document = client.declaration(decl_id, owner)
                document["headers"] = client.header_chain(document["receipt"]["header"]["height"])
            checks = verify_receipt(document, genesis)
            section = document["declaration"]["sealed"]
            version = int(document["record"]["document"])
            _, opened = open_with(
                section,
                owner=owner,
                declaration_id=decl_id,
                version=version,
                private_key=enc["auditor"],
            )
            competitor = next(s for s in SHIPPERS if s != owner)
            try:
                open_with(
                    section,
                    owner=owner,
                    declaration_id=decl_id,
                    version=version,
                    private_key=enc[competitor],
                )
                say(f"  receipt of {decl_id}: FAILED, {competitor}'s key opens its sealed fields")
                return what, False
            except SealingError as e:
                if e.code != "sealed.not_a_recipient":
                    raise
        except (ClientError, ReceiptError, KeyError, TypeError) as e:
            say(f"  receipt of {decl_id} from {name}: FAILED {e!r}")
            return what, False
        say(
            f"  receipt of {decl_id} from {name}: {document['record']['status']},"
            f" {len(checks)} checks hold; its {len(opened.fields)} sealed fields open with the"
            f" auditor's key and match the chain's digest, not with {competitor}'s"
        )
    return what, True


def _table(
    say: Callable[[str], None], tally: Tally, checks: list[tuple[str, bool]], elapsed: float
) -> None:
    say("")
    say("  ---------------------------------------------------------------")
    say(f"  declarations committed          {tally.committed['declarations']:>6}")
    say(f"  declarations refused            {sum(tally.refused.values()):>6}")
    for code, n in sorted(tally.refused.items()):
        say(f"    {code:<30}{n:>6}")
    for decision, n in sorted(tally.decisions.items()):
        say(f"  decision {decision:<22}{n:>6}")
    for what, ok in checks:
        say(f"  [{'ok' if ok else 'FAILED'}] {what}")
    for failure in tally.failures[:10]:
        say(f"  FAILED: {failure}")
    say(f"  finished in {elapsed:.1f} s")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``dgledger demo``."""
    parser = argparse.ArgumentParser(prog="dgledger demo")
    parser.add_argument("--declarations", type=int, default=60)
    parser.add_argument("--keep", help="run in this directory and keep it")
    args = parser.parse_args(argv)
    if args.keep:
        return run_demo(Path(args.keep), declarations=args.declarations)
    with tempfile.TemporaryDirectory(prefix="dgledger-demo-") as tmp:
        return run_demo(Path(tmp), declarations=args.declarations)


if __name__ == "__main__":
    sys.exit(main())
