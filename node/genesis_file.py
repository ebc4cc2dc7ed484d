"""The genesis file on disk: JSON that people can read, canonical bytes underneath.

The file is JSON with byte fields written as lower-case hex::

    {"chain": "dg-port-1", "time": 1790000000000,
     "validators": [{"key": "<hex>", "power": 10, "org": "customs"}, ...],
     "app": {"orgs": [{"name": ..., "role": ..., "keys": ["<hex>", ...],
                       "legal_name": ..., "identifiers": {"eori": ...},
                       "enc_keys": ["<hex>", ...]}, ...],
             "dgl": "<hex sha-256>", "params": {"governance_delay": 2, "lead_time_hours": 24},
             "ports": [{"locode": "FRLEH", "name": "Le Havre",
                        "authority": "port-authority"}, ...]}}

``legal_name``, ``identifiers``, ``enc_keys`` (X25519 public keys),
``lead_time_hours`` and ``ports`` are optional (:mod:`contracts.membership`):
a file written before they existed reads as it did, with the same hash.

Reading converts exactly those fields back to bytes, builds the canonical
value and validates it (ledger and contracts), so the genesis hash is the
same whatever the JSON whitespace or key order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from contracts.errors import ContractError
from contracts.membership import AppGenesis
from ledger.errors import LedgerError
from ledger.genesis import Genesis
from node.errors import GenesisFileError

MAX_FILE: Final = 4 * 1024 * 1024


def _hex(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise GenesisFileError(f"{where}: expected a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError as e:
        raise GenesisFileError(f"{where}: not hex") from e


def _org_to_json(org: dict[str, Any]) -> dict[str, Any]:
    out = {**org, "keys": [k.hex() for k in org["keys"]]}
    if "enc_keys" in org:
        out["enc_keys"] = [k.hex() for k in org["enc_keys"]]
    return out


def _org_from_json(org: dict[str, Any], i: int) -> dict[str, Any]:
    out = {**org, "keys": [_hex(k, f"app.orgs[{i}].keys") for k in org.get("keys", [])]}
    if "enc_keys" in org:
        out["enc_keys"] = [_hex(k, f"app.orgs[{i}].enc_keys") for k in org["enc_keys"]]
    return out


def genesis_to_json(genesis: Genesis) -> str:
    """The genesis document as the JSON text of the file."""
    value = genesis.to_value()
    out = {
        "chain": value["chain"],
        "time": value["time"],
        "validators": [{**v, "key": v["key"].hex()} for v in value["validators"]],
        "app": {
            "orgs": [_org_to_json(o) for o in value["app"]["orgs"]],
            "dgl": value["app"]["dgl"].hex(),
            "params": value["app"]["params"],
        },
    }
    if "ports" in value["app"]:
        out["app"]["ports"] = value["app"]["ports"]
    return json.dumps(out, indent=2, sort_keys=True) + "\n"


def genesis_from_json(text: str) -> Genesis:
    """Parse and validate the JSON text of a genesis file."""
    try:
        raw = json.loads(text, parse_float=_no_float, parse_constant=_no_float)
    except (json.JSONDecodeError, ValueError) as e:
        raise GenesisFileError(f"not valid JSON: {e}") from e
    except RecursionError as e:  # nesting deeper than the parser's stack
        raise GenesisFileError("not valid JSON: nested too deeply") from e
    if not isinstance(raw, dict) or set(raw) != {"chain", "time", "validators", "app"}:
        raise GenesisFileError("genesis has exactly chain, time, validators, app")
    app = raw["app"]
    validators = raw["validators"]
    if not isinstance(app, dict) or not isinstance(app.get("orgs"), list):
        raise GenesisFileError("app.orgs must be a list")
    if not isinstance(validators, list):
        raise GenesisFileError("validators must be a list")
    try:
        value = {
            "chain": raw["chain"],
            "time": raw["time"],
            "validators": [
                {**v, "key": _hex(v.get("key"), f"validators[{i}].key")}
                for i, v in enumerate(validators)
                if isinstance(v, dict)
            ],
            "app": {
                **app,
                "orgs": [
                    _org_from_json(o, i)
                    for i, o in enumerate(app["orgs"])
                    if isinstance(o, dict)
                    and isinstance(o.get("keys", []), list)
                    and isinstance(o.get("enc_keys", []), list)
                ],
                "dgl": _hex(app.get("dgl"), "app.dgl"),
            },
        }
        if len(value["validators"]) != len(validators) or len(value["app"]["orgs"]) != len(
            app["orgs"]
        ):
            raise GenesisFileError("validators and orgs must be objects with list fields")
        genesis = Genesis.from_value(value)
        AppGenesis.from_value(genesis.app)
    except LedgerError as e:
        raise GenesisFileError(f"invalid genesis: {e}") from e
    except ContractError as e:
        raise GenesisFileError(f"invalid genesis: {e.path}: {e.message}") from e
    return genesis


def _no_float(text: str) -> Any:
    raise ValueError(f"numbers must be integers, found {text}")


def load_genesis(path: str | Path) -> Genesis:
    """Read a genesis file with a size limit."""
    path = Path(path)
    try:
        # At most one byte past the limit is read, whatever stat() said a moment before.
        with path.open("rb") as f:
            data = f.read(MAX_FILE + 1)
        if len(data) > MAX_FILE:
            raise GenesisFileError(f"{path}: larger than {MAX_FILE} bytes")
        text = data.decode("utf-8")
    except OSError as e:
        raise GenesisFileError(f"{path}: cannot read: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise GenesisFileError(f"{path}: not UTF-8") from e
    try:
        return genesis_from_json(text)
    except GenesisFileError as e:
        raise GenesisFileError(f"{path}: {e}") from e
