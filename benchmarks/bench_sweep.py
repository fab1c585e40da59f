"""Static costing speed of `sweep` (issue 25: 10,000 variants in under a minute on 2 cores).

Costs `--samples` variants of RegNet's design space around regnetx_002 with `cost_all` on
every usable core (what `resnet-spec sweep --space regnet` does, without the files), and
prints the time against the 60 s target for 10,000 (scaled to the samples asked for). The
anchor beside it: the same figures the naive way, `resnet_spec.elaborate(spec, overrides)`
then `analyze` per variant (each re-reading the spec's YAML), on the first `--anchor`
variants in this process; the ratio is per variant and per core.

    python benchmarks/bench_sweep.py [--samples 10000] [--anchor 300]
"""

from __future__ import annotations

import argparse
import time

import resnet_spec
from resnet_spec.cores import usable_cores
from resnet_spec.ir.cost import analyze
from resnet_spec.sweep.costing import cost_all
from resnet_spec.sweep.space import regnet_variants

TARGET_S_PER_10K = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--anchor", type=int, default=300)
    args = parser.parse_args()
    cores = usable_cores()
    variants = list(regnet_variants(args.samples, seed=0))

    started = time.perf_counter()
    for variant in variants[:args.anchor]:
        analyze(resnet_spec.elaborate("regnetx_002", list(variant.overrides)))
    naive = (time.perf_counter() - started) / args.anchor

    started = time.perf_counter()
    costed = cost_all("regnetx_002", variants)
    seconds = time.perf_counter() - started
    per_variant = seconds / len(variants)
    target = TARGET_S_PER_10K * len(variants) / 10_000
    print(f"{len(variants):,} RegNet variants costed on {cores} cores in {seconds:.1f} s "
          f"({len(variants) / seconds:,.0f} variants/s, {sum(c.valid for c in costed):,} valid)")
    print(f"target: {target:.0f} s for {len(variants):,} -> {target / seconds:.2f}x under it")
    print(f"anchor: elaborate + analyze per variant, re-reading the spec: "
          f"{naive * 1000:.2f} ms/variant on one core; sweep: {per_variant * cores * 1000:.2f} "
          f"ms/variant per core ({naive / (per_variant * cores):.2f}x)")


if __name__ == "__main__":
    main()
