"""Transfers: an agent's free-text summary is masked like a transcript before it reaches
the call record or a work order; ``transfer list`` pages so no answer outgrows the
control API's line limit."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ivr.config.engine import EngineConfig, load_engine_config
from ivr.control.protocol import MAX_LINE, encode
from ivr.transfers.api import PAGE_BYTES, TransferApi, page
from tests.unit.test_transfers_service import Controller
from tests.unit.transfer_fakes import CALL_ID

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def config() -> EngineConfig:
    return load_engine_config(REPO)


@pytest.fixture
async def ctl(config: EngineConfig, tmp_path: Path) -> AsyncIterator[Controller]:
    controller = Controller(config, tmp_path / "calls.db")
    yield controller
    await controller.core.drain()


async def test_the_summary_is_masked_in_the_record(ctl: Controller) -> None:
    transfer = await ctl.service.start(
        "12366", call_id=CALL_ID, summary="来电人13800138000，身份证110101199003077777，发票遗失")
    assert transfer.summary == "来电人138******00，身份证110*************77，发票遗失"
    await ctl.journal.flush()
    (requested,) = [s for s in ctl.steps() if s["step"] == "transfer_requested"]
    assert requested["summary"] == transfer.summary
    assert "13800138000" not in json.dumps(ctl.steps(), ensure_ascii=False)


def test_pages_cover_everything_once_and_stay_small() -> None:
    items: list[dict[str, Any]] = [{"id": f"xfer-{n:04d}", "history": ["x" * 300] * (n % 7)}
                                   for n in range(1200)]
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        result = page(items, offset, 500)
        assert len(encode({"ok": True, "result": result})) < MAX_LINE
        assert len(encode({"ok": True, "result": result})) < PAGE_BYTES + 200
        seen += [i["id"] for i in result["items"]]
        assert result["total"] == 1200
        offset = result["next"]
    assert seen == [i["id"] for i in items]
    huge = [{"id": "big", "blob": "y" * (PAGE_BYTES + 10)}, {"id": "next"}]
    assert page(huge, 0, 50)["items"] == [huge[0]] and page(huge, 0, 50)["next"] == 1


async def test_transfer_list_pages_through_the_control_api(ctl: Controller) -> None:
    api = TransferApi(ctl.service)
    await ctl.service.start("12366", call_id=CALL_ID)
    first = await api.handle("transfer.list", {"offset": 0, "limit": 1})
    assert first["ok"] and first["result"]["next"] is None and len(first["result"]["items"]) == 1
    for bad in ({"offset": -1}, {"limit": "9"}, {"offset": True}, {"limit": 10**6}):
        answer = await api.handle("transfer.list", bad)
        assert answer["ok"] is False and answer["error"].startswith("bad arguments"), bad
