"""What one warm task costs while it waits (docs/warm-runners.md, Costs): Fargate bills a
task's requested vCPU and memory per second from the image pull until it stops, busy or
not, and a task with a public IPv4 address (the stack's tasks have one: no NAT) pays for
the address too; and a waiting agent reads its S3 mailbox 5 times a second. Prices:
Linux/x86, us-east-1, on demand, as published (sources in the doc); other regions and
Graviton differ."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

HOURS_PER_MONTH = 730  # AWS's own monthly convention (24 x 365 / 12)
# The waiting agent's mailbox GETs (agent/mailbox.py POLL_SECONDS = 0.2): 5 a second.
MAILBOX_GETS_PER_HOUR = 18_000
# The sizes docs/warm-runners.md prices: each CPU with its smallest memory, and 0.25/1 GB.
DOC_SIZES = [
    (256, 512),
    (256, 1024),
    (512, 1024),
    (1024, 2048),
    (2048, 4096),
    (4096, 8192),
    (8192, 16384),
    (16384, 32768),
]


@dataclass(frozen=True)
class FargatePrices:
    per_vcpu_hour: float = 0.04048
    per_gb_hour: float = 0.004445
    public_ipv4_hour: float = 0.005
    s3_get_per_1000: float = 0.0004


def idle_cost_per_hour(cpu: int, memory: int, prices: FargatePrices | None = None) -> float:
    """USD per hour of one waiting task of `cpu` CPU units (1024 = 1 vCPU) and `memory`
    MiB: the task, its public IPv4 address and its mailbox polls."""
    prices = prices or FargatePrices()
    return task_cost_per_hour(cpu, memory, prices) + polling_cost_per_hour(prices)


def task_cost_per_hour(cpu: int, memory: int, prices: FargatePrices | None = None) -> float:
    """USD per hour of the task itself: its vCPU, its memory and its public IPv4 address."""
    prices = prices or FargatePrices()
    return (
        cpu / 1024 * prices.per_vcpu_hour
        + memory / 1024 * prices.per_gb_hour
        + prices.public_ipv4_hour
    )


def polling_cost_per_hour(prices: FargatePrices | None = None) -> float:
    """USD per hour of the waiting agent's mailbox GETs, whatever the task's size."""
    prices = prices or FargatePrices()
    return MAILBOX_GETS_PER_HOUR / 1000 * prices.s3_get_per_1000


def cost_table(sizes: Sequence[tuple[int, int]], prices: FargatePrices | None = None) -> str:
    """The doc's table: per size, USD per hour (the task with its address, the polls, in
    all) and per month (730 h) of one warm task."""
    lines = [
        "| CPU units (vCPU) | memory | task + IPv4 per hour | mailbox polls per hour "
        "| per hour | per month (730 h) |",
        "|---|---|---|---|---|---|",
    ]
    polls = polling_cost_per_hour(prices)
    for cpu, memory in sizes:
        task = task_cost_per_hour(cpu, memory, prices)
        hourly = idle_cost_per_hour(cpu, memory, prices)
        lines.append(
            f"| {cpu} ({cpu / 1024:g}) | {memory / 1024:g} GB | ${task:.5f} | ${polls:.5f} "
            f"| ${hourly:.5f} | ${hourly * HOURS_PER_MONTH:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(cost_table(DOC_SIZES))
