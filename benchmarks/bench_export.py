"""Time of `build MODEL --to onnx` against a plain `build MODEL`, both measured in this run
(issue 15). The ONNX target starts from the program the build already exported, so it should
add a conversion and a check, not a second trace. Target: at most 1.5x.

Both commands run as fresh processes, taking turns, after one untimed warm-up each (see
`timing.interleaved`); each figure is the median.

    python benchmarks/bench_export.py [--model resnet50] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from timing import interleaved

TARGET = 1.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "resnet_spec", "build", args.model]
    with tempfile.TemporaryDirectory() as tmp:
        commands = {
            f"build {args.model}": [*cli, "--out", str(Path(tmp) / "plain")],
            f"build {args.model} --to onnx": [*cli, "--to", "onnx", "--out",
                                              str(Path(tmp) / "onnx")],
        }
        times = interleaved(commands, args.runs)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"median of {args.runs} runs each, as processes; load average {load:.2f}")
    anchor = statistics.median(next(iter(times.values())))
    for name, runs in times.items():
        median = statistics.median(runs)
        print(f"  {name:<32} {median:7.2f} s   ratio {median / anchor:4.2f}   "
              f"(runs {' '.join(f'{r:.1f}' for r in runs)})")
    ratio = statistics.median(list(times.values())[1]) / anchor
    verdict = "meets" if ratio <= TARGET else "MISSES"
    print(f"--to onnx / plain build: {ratio:.2f}: {verdict} the target of <= {TARGET}")


if __name__ == "__main__":
    main()
