"""Figures for the privacy of pulse results. Run by hand: python bench/bench_privacy.py [--organisations N]

1. The adversary of tests/pulses/test_attack.py over many random organisations (teams of 3–12 in 1–3
   departments, half a year of weekly rounds, leavers and joiners, people and teams moving, teams re-created
   and merged, ~15 % not answering each week): how often it guesses a person's favourable status per question
   right with every published number, against the baseline that uses only the group results. Also against a
   publisher without noise, to show what the attack does when it can.
2. The 35-person organisation of the issue (teams of 12, 5, 8, 3, 4 and 3 in three departments, ~85 %
   answering, eight weekly rounds): how often the organisation and the departments of 10 or more are published,
   and how far the organisation's favourable share is from the truth (p50, p90).

Noise comes from a seeded discrete Laplace sampler here (the same distribution as OpenDP's, reproducible).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.catalog import load_content
from bot.domain.content import PulseSet
from bot.domain.privacy import EPSILON_PER_PERIOD
from bot.settings import BUNDLED_CONTENT
from tests.pulses.simulation import (
    AttackResult,
    SeededLaplace,
    attack,
    make_world,
    simulate,
    total,
    visibility_of_35,
)


def attack_figures(pulse_set: PulseSet, organisations: int, weeks: int, epsilon: float) -> AttackResult:
    results = []
    for seed in range(organisations):
        rng = random.Random(seed)
        layout = [[rng.randint(3, 12) for _ in range(rng.randint(1, 3))] for _ in range(rng.randint(1, 3))]
        world = make_world(pulse_set, layout, seed)
        results.append(attack(world, simulate(world, weeks, SeededLaplace(seed), epsilon=epsilon)))
    return total(results)


def describe(label: str, r: AttackResult) -> str:
    base, hit = 100 * r.baseline_correct / r.targets, 100 * r.attack_correct / r.targets
    base_inv = 100 * r.involved_baseline / r.involved_targets
    hit_inv = 100 * r.involved_attack / r.involved_targets
    return (
        f"{label}: {r.targets:,} guesses — baseline {base:.1f} %, attack {hit:.1f} % (gain {hit - base:+.1f} "
        f"points); people touched by a change ({r.involved_targets:,} guesses): baseline {base_inv:.1f} %, "
        f"attack {hit_inv:.1f} % (gain {hit_inv - base_inv:+.1f} points)"
    )


def organisation_of_35(pulse_set: PulseSet, organisations: int) -> str:
    f = visibility_of_35(pulse_set, organisations)
    deciles = statistics.quantiles(f.organisation_errors, n=10)
    return (
        f"35 people, {organisations} organisations, {f.months} months: organisation published "
        f"{100 * f.organisation_shown / f.months:.0f} % of months; departments of 10+ published "
        f"{100 * f.department_shown / f.department_months:.1f} % (in full "
        f"{100 * f.department_full / f.department_months:.1f} %, else as a band); organisation's favourable "
        f"share off by p50 {statistics.median(f.organisation_errors):.1f}, p90 {deciles[-1]:.1f}, max "
        f"{max(f.organisation_errors):.1f} points"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--organisations", type=int, default=200)
    parser.add_argument("--weeks", type=int, default=26)
    args = parser.parse_args()
    pulse_set = load_content(BUNDLED_CONTENT).catalog.pulse_set("wekelijkse-check-in")
    if pulse_set is None:
        raise SystemExit("the bundled pulse set 'wekelijkse-check-in' is missing")
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; ε {EPSILON_PER_PERIOD:g} per person per month"
    )
    started = time.perf_counter()
    private = attack_figures(pulse_set, args.organisations, args.weeks, EPSILON_PER_PERIOD)
    print(describe("with differential privacy", private))
    print(
        describe(
            "without noise (for comparison)", attack_figures(pulse_set, args.organisations, args.weeks, 1e6)
        )
    )
    print(organisation_of_35(pulse_set, max(args.organisations, 200)))
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
