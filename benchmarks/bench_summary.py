"""How long `resnet-spec summary` takes, against the anchor `python -c "import torch"`.

Both run as fresh processes, interleaved so that a slow moment of the machine hits both, after
one warm-up each (the first import of torch reads its libraries from disk). The target of issue
5: a summary of the largest built-in net (cifar_resnet1202, 600 blocks, 4,208 IR nodes) in under
half the time it takes merely to import torch.

    python benchmarks/bench_summary.py [--runs 7] [--spec cifar_resnet1202]

Prints the median wall time of each and their ratio; exits 1 when the ratio misses the target.
"""

from __future__ import annotations

import argparse
import statistics
import sys

# `python benchmarks/bench_summary.py` puts benchmarks/ first on sys.path
from timing import interleaved

TARGET = 0.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each command")
    parser.add_argument("--spec", default="cifar_resnet1202", help="the spec to summarize")
    args = parser.parse_args()
    commands = {
        f"resnet-spec summary {args.spec}":
            [sys.executable, "-m", "resnet_spec", "summary", args.spec],
        f"resnet-spec summary {args.spec} --json":
            [sys.executable, "-m", "resnet_spec", "summary", args.spec, "--json"],
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
    }
    times = interleaved(commands, args.runs)
    anchor = statistics.median(times['python -c "import torch"'])
    print(f"median of {args.runs} runs each, as processes ({sys.executable})")
    worst = 0.0
    for name, values in times.items():
        median = statistics.median(values)
        ratio = median / anchor
        worst = max(worst, ratio) if "summary" in name else worst
        print(f"  {name:<48} {median:7.3f} s   ratio to import torch {ratio:5.2f}")
    verdict = "meets" if worst < TARGET else "MISSES"
    print(f"worst summary ratio {worst:.2f}: {verdict} the target of < {TARGET}")
    return 0 if worst < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
