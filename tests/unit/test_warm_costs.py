"""The idle cost of a warm task (domain/warm_costs.py), and the table in
docs/warm-runners.md, which must be what the module prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator.domain.warm_costs import (
    DOC_SIZES,
    FargatePrices,
    cost_table,
    idle_cost_per_hour,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "warm-runners.md"


def test_the_smallest_task_costs_its_vcpu_its_memory_and_its_address() -> None:
    # 0.25 vCPU x $0.04048 + 0.5 GB x $0.004445 + $0.005
    assert idle_cost_per_hour(256, 512) == pytest.approx(0.0101200 + 0.0022225 + 0.005)
    without_address = FargatePrices(public_ipv4_hour=0.0)
    assert idle_cost_per_hour(1024, 2048, without_address) == pytest.approx(0.04048 + 0.00889)


def test_the_docs_table_is_the_one_the_module_prints() -> None:
    found = re.search(r"<!-- warm-costs -->\n(.*?)\n<!-- /warm-costs -->", DOC.read_text(), re.S)
    assert found is not None
    assert found.group(1) == cost_table(DOC_SIZES)
