"""The memory preflight's estimate against the peak it predicts (issue 21), on large specs.

Each case runs `resnet-spec ...` as a fresh process and reads its peak resident memory (its
own and its children's, from `wait4`); the estimate is `resnet_spec.pipeline.memory`'s for the
same command, computed here from the IR. Target: estimate / peak between 1/1.5 and 1.5 for
every case. The small cases are tested (`tests/test_memory_estimate.py`); these take minutes
and up to about 4 GiB each, so they run here.

    python benchmarks/bench_memory.py [--only NAME ...]

Exits 1 when a case misses the target.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from resnet_spec.deploy.options import BatchRange
from resnet_spec.elaboration import elaborate
from resnet_spec.ir.cost import analyze
from resnet_spec.pipeline import memory as bm
from resnet_spec.spec.loader import load

TARGET = 1.5
STEM = ("name: wide_stem\ninput: {channels: 3, height: 1024, width: 1024}\n"
        "stem: {kind: conv, width: 64, kernel: 3, stride: 1, pool: none}\nblock: {kind: basic}\n"
        "shortcut: projection\nstages:\n  - {depth: 1, width: 64}\n"
        "  - {depth: 1, width: 128, stride: 2}\nhead: {pool: avg, classes: 10}\n")
"""A stride-1 stem of 64 channels at 1024x1024: activations dominate (256 MiB an image)."""


def cases(stem: str) -> dict[str, tuple[list[str], str, bm.Workload | list[bm.Workload]]]:
    """name -> (CLI arguments after the command's output options, spec, workload)."""
    onnx_ov = bm.pipeline_workload(("onnx", "openvino"), BatchRange().check_batches(),
                                   full=False)
    return {
        "build stride-1 stem 1024x1024": (["build", stem], stem, bm.BUILD),
        "build wide_resnet50_2": (["build", "wide_resnet50_2"], "wide_resnet50_2", bm.BUILD),
        "export wide_resnet50_2 --to onnx": (
            ["export", "wide_resnet50_2", "--to", "onnx"], "wide_resnet50_2",
            bm.pipeline_workload(("onnx",), BatchRange().check_batches(), full=False)),
        "export wide_resnet50_2 --to openvino": (
            ["export", "wide_resnet50_2", "--to", "openvino"], "wide_resnet50_2",
            bm.pipeline_workload(("openvino",), BatchRange().check_batches(), full=False)),
        "export wide_resnet50_2 --to aoti": (
            ["export", "wide_resnet50_2", "--to", "aoti"], "wide_resnet50_2",
            bm.pipeline_workload(("aoti",), BatchRange().check_batches(), full=False)),
        "export resnet50 --to onnx,openvino": (
            ["export", "resnet50", "--to", "onnx,openvino"], "resnet50", onnx_ov),
        "export cifar_resnet20 --to onnx --batch 4096": (
            ["export", "cifar_resnet20", "--to", "onnx", "--batch", "4096"], "cifar_resnet20",
            bm.pipeline_workload(("onnx",), (4096,), full=False)),
        "bench resnet50 --backends eager,onnxruntime --batch 1,8": (
            ["bench", "resnet50", "--backends", "eager,onnxruntime", "--batch", "1,8",
             "--runs", "2", "--warmup", "1"], "resnet50",
            bm.bench_workloads((1, 8), ("eager", "onnxruntime"))),
    }


PEAK = """
import os, subprocess, sys
process = subprocess.Popen([sys.executable, "-m", "resnet_spec", *sys.argv[1:]],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(process.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024)  # Linux reports KiB
"""
"""Started from a fresh small process: Linux counts in a child's peak the memory of the process
it was forked from, and exec does not reset it."""


def peak_of(args: list[str]) -> tuple[int, int]:
    """(peak resident bytes, exit code) of `python -m resnet_spec ARGS` and its children."""
    done = subprocess.run([sys.executable, "-c", PEAK, *args], capture_output=True, text=True,
                          check=True)
    code, peak = map(int, done.stdout.split())
    return peak, code


def estimated(spec: str, workload: bm.Workload | list[bm.Workload]) -> int:
    graph = elaborate(load(spec))
    cost = analyze(graph)
    loads = workload if isinstance(workload, list) else [workload]
    return max(bm.estimate(graph, cost, w).total for w in loads)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="run the cases whose name holds one of these")
    options = parser.parse_args()
    missed = 0
    with tempfile.TemporaryDirectory() as folder:
        stem = str(Path(folder) / "wide_stem.yaml")
        Path(stem).write_text(STEM)
        print(f"{'case':<58} {'estimate':>9} {'peak':>9} {'ratio':>6} {'time':>6}")
        for i, (name, (args, spec, workload)) in enumerate(cases(stem).items()):
            if options.only and not any(word in name for word in options.only):
                continue
            out = [] if args[0] == "bench" else ["--out", str(Path(folder) / f"out{i}"), "-q"]
            start = time.perf_counter()
            peak, code = peak_of([*args, *out])
            seconds = time.perf_counter() - start
            guess = estimated(spec, workload)
            ratio = guess / peak
            ok = code == 0 and 1 / TARGET <= ratio <= TARGET
            missed += not ok
            print(f"{name:<58} {guess / 2**30:7.2f}Gi {peak / 2**30:7.2f}Gi {ratio:6.2f} "
                  f"{seconds:5.0f}s{'' if ok else '  MISSED' if code == 0 else f'  exit {code}'}",
                  flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
