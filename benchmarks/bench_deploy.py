"""Inference speed of the deployment backends against torchvision eager (issue 15).

Runs `resnet-spec bench MODEL --json` (each backend alone in its own process) and, in its own
process with the same protocol (threads, warm-up, median of --runs), torchvision's model in eval
mode: the anchor. Rounds alternate anchor and bench, so that load from other processes hits
both alike; each figure is the median over rounds. Target: at batch 1 and 8 the fastest backend
is at least 1.8x torchvision eager (ResNet-50, fp32, CPU, 2 threads).

    python benchmarks/bench_deploy.py [--model resnet50] [--threads 2] [--runs 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
from typing import Any

from timing import bench_json, eager_arguments, eager_ms

TARGET = 1.8
BACKENDS = "eager,inference,onnxruntime,openvino"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    eager_arguments(parser, rounds=2, rounds_help="anchor/bench alternations")
    parser.add_argument("--backends", default=BACKENDS)
    args = parser.parse_args()
    report(args, *alternate(args))


def alternate(args: argparse.Namespace, *bench_options: str) -> tuple[list[Any], list[Any]]:
    """`args.rounds` alternations of the anchor and `resnet-spec bench` with `bench_options`,
    each in its own process: (anchor runs, bench runs)."""
    anchor_runs, bench_runs = [], []
    for _ in range(args.rounds):
        anchor_runs.append(eager_ms("torchvision", args))  # the anchor, in its own process
        bench_runs.append(bench_json(args, args.backends, *bench_options))
    return anchor_runs, bench_runs


def report(args: argparse.Namespace, anchor_runs: list[dict], bench_runs: list[dict], *,
           precision: str = "fp32", target: float = TARGET) -> None:
    """Each backend's median over rounds against the anchor's, and whether the fastest at each
    batch meets `target`."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.model}, {precision}, {args.threads} threads, median of {args.runs} runs after "
          f"{args.warmup} warm-up, median over {args.rounds} rounds; load average {load:.2f}")
    verdicts = []
    for batch in args.batch.split(","):
        anchor = statistics.median(run[batch] for run in anchor_runs)
        print(f"\nbatch {batch}: torchvision eager {anchor:8.2f} ms  (1.00x)")
        best, best_ratio = None, 0.0
        for backend in args.backends.split(","):
            times = [run["backends"][backend]["batches"][batch]["median_ms"]
                     for run in bench_runs if run["backends"][backend]["status"] == "ok"]
            if not times:
                reason = bench_runs[0]["backends"][backend].get("reason", "failed")
                print(f"  {backend:<12} skipped: {reason}")
                continue
            ms = statistics.median(times)
            ratio = anchor / ms
            print(f"  {backend:<12} {ms:8.2f} ms  {ratio:5.2f}x torchvision eager")
            if ratio > best_ratio:
                best, best_ratio = backend, ratio
        verdicts.append((batch, best, best_ratio))
    print()
    for batch, best, ratio in verdicts:
        meets = "meets" if ratio >= target else "MISSES"
        print(f"batch {batch}: fastest {best} at {ratio:.2f}x: {meets} the {target}x target")


if __name__ == "__main__":
    main()
