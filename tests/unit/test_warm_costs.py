"""The idle cost of a warm task (domain/warm_costs.py), and the table in
docs/warm-runners.md, which must be what the module prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator.agent.mailbox import POLL_SECONDS
from orchestrator.domain.warm_costs import (
    DOC_SIZES,
    MAILBOX_GETS_PER_HOUR,
    FargatePrices,
    cost_table,
    idle_cost_per_hour,
    task_cost_per_hour,
)

ROOT = Path(__file__).resolve().parents[2]


def test_the_smallest_task_costs_its_vcpu_its_memory_and_its_address() -> None:
    # 0.25 vCPU x $0.04048 + 0.5 GB x $0.004445 + $0.005
    assert task_cost_per_hour(256, 512) == pytest.approx(0.0101200 + 0.0022225 + 0.005)
    without_address = FargatePrices(public_ipv4_hour=0.0)
    assert task_cost_per_hour(1024, 2048, without_address) == pytest.approx(0.04048 + 0.00889)


def test_a_waiting_task_also_pays_for_its_mailbox_polls() -> None:
    # 18,000 GETs an hour x $0.0004 per 1,000
    assert idle_cost_per_hour(256, 512) == pytest.approx(0.0173425 + 0.0072)
    assert idle_cost_per_hour(256, 512, FargatePrices(s3_get_per_1000=0.0)) == pytest.approx(
        0.0173425
    )


def test_the_priced_polls_are_the_agents_polls() -> None:
    assert round(3600 / POLL_SECONDS) == MAILBOX_GETS_PER_HOUR


@pytest.mark.parametrize("doc", ["docs/warm-runners.md", "README.md"])
def test_the_docs_table_is_the_one_the_module_prints(doc: str) -> None:
    text = (ROOT / doc).read_text()
    found = re.search(r"<!-- warm-costs -->\n(.*?)\n<!-- /warm-costs -->", text, re.S)
    assert found is not None
    assert found.group(1) == cost_table(DOC_SIZES)
