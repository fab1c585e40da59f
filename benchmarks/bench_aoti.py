"""AOTInductor package against torchvision eager on the CPU (issue 22).

Each round runs, each in its own process with the same protocol (threads, warm-up, --runs timed
runs): torchvision's model in eval mode (the anchor, `eager_worker.py`), then for each batch
size `resnet-spec bench MODEL --backends aoti --batch N --json`, which compiles the aoti target
for that one batch (as `export --to aoti --batch N` does: weights prepacked for the threads),
checks it against the module and times the package. Rounds alternate the two, so that load
from other processes hits both alike; each figure is the median over rounds, and the package's
quartiles of its best round are shown beside it. Target: at batch 1 the package is at least
1.5x torchvision eager (ResNet-50, fp32, CPU, 2 threads).

    python benchmarks/bench_aoti.py [--model resnet50] [--threads 2] [--runs 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics

from timing import bench_json, eager_arguments, eager_ms

TARGET = 1.5
TARGET_BATCH = "1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    eager_arguments(parser, rounds=2, rounds_help="anchor/package alternations")
    args = parser.parse_args()
    loads = [os.getloadavg()[0]]
    anchor_runs, package_runs = [], []
    for _ in range(args.rounds):
        anchor_runs.append(eager_ms("torchvision", args))
        package_runs.append(package_ms(args))
        loads.append(os.getloadavg()[0])
    report(args, anchor_runs, package_runs, loads)


def package_ms(args: argparse.Namespace) -> dict:
    """The aoti backend's figures at each batch size, one static package per size."""
    merged: dict = {"status": "ok", "batches": {}}
    for batch in args.batch.split(","):
        one = argparse.Namespace(**{**vars(args), "batch": batch})
        result = bench_json(one, "aoti")["backends"]["aoti"]
        if result["status"] != "ok":
            return result
        merged["batches"].update(result["batches"])
    return merged


def report(args: argparse.Namespace, anchor_runs: list[dict], package_runs: list[dict],
           loads: list[float]) -> None:
    print(f"{args.model}, fp32, {args.threads} threads, {args.runs} runs after {args.warmup} "
          f"warm-up, median over {args.rounds} rounds; load average {min(loads):.2f} to "
          f"{max(loads):.2f} on {os.cpu_count()} cores")
    failed = [r for r in package_runs if r["status"] != "ok"]
    if failed:
        raise SystemExit(f"aoti {failed[0]['status']}: {failed[0].get('reason')}")
    verdict = None
    for batch in args.batch.split(","):
        anchor = statistics.median(run[batch] for run in anchor_runs)
        figures = [run["batches"][batch] for run in package_runs]
        ms = statistics.median(f["median_ms"] for f in figures)
        best = min(figures, key=lambda f: f["median_ms"])
        print(f"\nbatch {batch}: torchvision eager {anchor:8.2f} ms  (1.00x)")
        print(f"  aoti         {ms:8.2f} ms  {anchor / ms:5.2f}x torchvision eager  "
              f"(best round: quartiles {best['q1_ms']:.2f}-{best['q3_ms']:.2f} ms, spread "
              f"{best['spread']:.1%})")
        if batch == TARGET_BATCH:
            verdict = anchor / ms
    if verdict is not None:
        meets = "meets" if verdict >= TARGET else "MISSES"
        print(f"\nbatch {TARGET_BATCH}: aoti at {verdict:.2f}x: {meets} the {TARGET}x target")
    if max(loads) > (os.cpu_count() or 1):
        print("warning: the load average exceeded the cores: rerun on a quieter machine")


if __name__ == "__main__":
    main()
