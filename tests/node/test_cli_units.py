"""``dgledger declare`` into a container another shipper's declaration already fills.

One validator (customs) as a real process. IMDG 7.3.4.1 applies segregation to
everything in one cargo transport unit, whoever declared it: shipper-beta's
ammonium nitrate (5.1) is refused in the container where shipper-acme's
gasoline (3) travels on the same voyage ("separated from", the 7.2.4 table),
and accepted in another container or on another voyage; hydrochloric acid
(UN1789, SGG1) is refused beside another shipper's sodium cyanide (UN1689,
SG35: "separated from SGG1 acids"; IMDG 7.2.8). The refusal names the goods,
never the other declaration or its organisation.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from contracts.dgl_builtin import builtin_list
from node.cli.main import main
from node.devnet.localnet import LocalNetwork
from node.devnet.traffic import container_number
from tests.samples import sample

pytestmark = pytest.mark.slow

MEMBERS: Final = (
    "port-authority:port_authority",
    "shipper-acme:shipper",
    "shipper-beta:shipper",
    "auditor:auditor",
)
NAMES: Final = {"shipper-acme": "ACME CHEMICALS SAS", "shipper-beta": "BETA POLYMERS GMBH"}
EMERGENCY: Final = {"contact": "DUTY OFFICER 24H", "phone": "+33 2 35 00 00 00"}
SHARED, OTHER, ACIDS = (container_number("UNT", "U", n) for n in (1, 2, 3))
Run = tuple[int, str, str]


def item(un: str, packages: int = 10) -> dict[str, Any]:
    """A valid item of the built-in list's entry for ``un``."""
    (entry,) = [e for e in builtin_list().entries if e.un_number == un][:1]
    out: dict[str, Any] = {
        "UNNumber": un,
        "properShippingName": entry.proper_shipping_name.split(" or ")[0],
        "imoClass": entry.hazard_class,
        "numberOfPackages": packages,
        "packageCode": "1H1",
        "isMarinePollutant": bool(entry.marine_pollutant),
        "isLimitedQuantity": False,
        "grossWeight": {"value": str(packages * 25), "unit": "KGM"},
        "emergencyContactDetails": dict(EMERGENCY),
    }
    for n, hazard in enumerate(entry.subsidiary_hazards):
        out[f"subsidiaryRisk{n + 1}"] = hazard
    if entry.packing_group is not None:
        out["packingGroup"] = entry.packing_group
    if entry.ems is not None:
        out["EMSNumber"] = entry.ems
    return out


GASOLINE: Final = sample()["containers"][0]["dangerousGoods"][0]


def dgledger(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> Run:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def declare(
    net: LocalNetwork,
    capsys: pytest.CaptureFixture[str],
    org: str,
    decl_id: str,
    container: str,
    goods: dict[str, Any],
    voyage: str | None = None,
) -> Run:
    doc = sample(decl_id=decl_id)
    doc["shipper"]["partyName"] = NAMES[org]
    doc["containers"][0]["equipmentReference"] = container
    doc["containers"][0]["dangerousGoods"] = [copy.deepcopy(goods)]
    if voyage is not None:
        doc["transport"]["voyageNumber"] = voyage
    path = net.directory / f"{decl_id}.json"
    path.write_text(json.dumps(doc))
    return dgledger(
        capsys, "declare", path, "--wait", "--key", net.key_path(org), "--node", net.url("customs")
    )


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    directory = tmp_path_factory.mktemp("cli-units") / "net"
    with LocalNetwork(directory, validators=["customs"], members=MEMBERS) as network:
        network.start()
        yield network


def test_goods_of_two_shippers_in_one_container_are_judged_together(
    net: LocalNetwork, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = declare(net, capsys, "shipper-acme", "ACME-GAS", SHARED, GASOLINE)
    assert (status, err) == (0, ""), err
    nitrate = item("1942")
    status, out, err = declare(net, capsys, "shipper-beta", "BETA-AN", SHARED, nitrate)
    assert status == 1, out
    first = err.strip().splitlines()[0]
    assert "$.body.declaration.containers[0].dangerousGoods[0]: segregation." in first, err
    assert "UN 1203" in first and SHARED in first and "another declaration" in first
    for secret in ("shipper-acme", "ACME", "ACME-GAS"):
        assert secret not in err
    # Another container, or the same one on another voyage, is another unit.
    status, _, err = declare(net, capsys, "shipper-beta", "BETA-AN", OTHER, nitrate)
    assert (status, err) == (0, ""), err
    status, _, err = declare(net, capsys, "shipper-beta", "BETA-AN-2", SHARED, nitrate, "9ZZ9W")
    assert (status, err) == (0, ""), err


def test_an_acid_beside_another_shippers_cyanide_is_refused_by_the_sg_codes(
    net: LocalNetwork, capsys: pytest.CaptureFixture[str]
) -> None:
    """IMDG 7.2.8: SG35 on UN1689 ("separated from SGG1 acids"), SG49 on UN1789."""
    status, _, err = declare(net, capsys, "shipper-acme", "ACME-CN", ACIDS, item("1689", 4))
    assert (status, err) == (0, ""), err
    status, out, err = declare(net, capsys, "shipper-beta", "BETA-HCL", ACIDS, item("1789"))
    assert status == 1, out
    first = err.strip().splitlines()[0]
    assert "segregation.sg_code" in first and "UN 1689" in first, err
    assert "SG35" in err or "SG49" in err
    assert "ACME" not in err
