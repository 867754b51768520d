"""What one warm task costs while it waits (docs/warm-runners.md, Costs): Fargate bills a
task's requested vCPU and memory per second from the image pull until it stops, busy or
not, and a task with a public IPv4 address (the stack's tasks have one: no NAT) pays for
the address too. Prices: Linux/x86, us-east-1, on demand, as published (sources in the
doc); other regions and Graviton differ."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

HOURS_PER_MONTH = 730  # AWS's own monthly convention (24 x 365 / 12)
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


def idle_cost_per_hour(cpu: int, memory: int, prices: FargatePrices | None = None) -> float:
    """USD per hour of one waiting task of `cpu` CPU units (1024 = 1 vCPU) and `memory`
    MiB, its public IPv4 address included."""
    prices = prices or FargatePrices()
    return (
        cpu / 1024 * prices.per_vcpu_hour
        + memory / 1024 * prices.per_gb_hour
        + prices.public_ipv4_hour
    )


def cost_table(sizes: Sequence[tuple[int, int]], prices: FargatePrices | None = None) -> str:
    """The doc's table: per size, USD per hour and per month (730 h) of one warm task."""
    lines = [
        "| CPU units (vCPU) | memory | per hour | per month (730 h) |",
        "|---|---|---|---|",
    ]
    for cpu, memory in sizes:
        hourly = idle_cost_per_hour(cpu, memory, prices)
        lines.append(
            f"| {cpu} ({cpu / 1024:g}) | {memory / 1024:g} GB | ${hourly:.5f} | "
            f"${hourly * HOURS_PER_MONTH:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(cost_table(DOC_SIZES))
