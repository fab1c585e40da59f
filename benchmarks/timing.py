"""Wall time of commands run as fresh processes, shared by the process benchmarks.

`interleaved` gives each command one untimed warm-up (the first run reads the interpreter's and
torch's files from disk), then times the commands taking turns, so that a slow moment of the
machine hits all of them alike. `run_json` runs a timing worker and reads what it prints;
`eager_arguments` and `eager_ms` are the options and the call of `eager_worker.py`, shared by
the benchmarks that time eager models; `bench_json` runs `resnet-spec bench --json` with the
same options.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def process_seconds(command: list[str], *, cwd: Path | None = None, expect: int = 0) -> float:
    """Seconds for one run of `command` as a process; an unexpected exit code stops us."""
    start = time.perf_counter()
    proc = subprocess.run(
        command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != expect:
        stderr = proc.stderr.decode(errors="replace").strip()
        tail = "\n".join(stderr.splitlines()[-10:])
        raise SystemExit(
            f"{' '.join(command)} exited {proc.returncode}, expected {expect}"
            + (f":\n{tail}" if tail else "")
        )
    return elapsed


def interleaved(
    commands: dict[str, list[str]], runs: int, *, cwd: Path | None = None
) -> dict[str, list[float]]:
    """Each command `runs` times, taking turns, after one untimed warm-up each."""
    for command in commands.values():
        process_seconds(command, cwd=cwd)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            times[name].append(process_seconds(command, cwd=cwd))
    return times


def run_json(command: list[str], threads: int) -> Any:
    """The JSON a timing worker prints, run as a process with `threads` OpenMP threads; a
    failed worker stops us with its stderr."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


EAGER_WORKER = str(Path(__file__).with_name("eager_worker.py"))


def eager_arguments(parser: argparse.ArgumentParser, *, rounds: int, rounds_help: str) -> None:
    """The options of a benchmark that times eager models with `eager_worker.py`."""
    parser.add_argument("--model", default="resnet50", help="a torchvision model and spec")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", default="1,8")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per batch (median)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=rounds, help=rounds_help)


def eager_ms(layout: str, args: argparse.Namespace) -> dict[str, float]:
    """`eager_worker.py`'s median milliseconds per batch for `layout`, in its own process, with
    the options of `eager_arguments`."""
    return run_json([sys.executable, EAGER_WORKER, layout, args.model, args.batch,
                     str(args.runs), str(args.warmup), str(args.threads)], args.threads)


def bench_json(args: argparse.Namespace, backends: str, *options: str) -> Any:
    """`resnet-spec bench MODEL --json` for `backends`, with the options of `eager_arguments`
    and `options` (each backend in its own process, as the command always runs them)."""
    return run_json([sys.executable, "-m", "resnet_spec", "bench", args.model, "--json",
                     "--threads", str(args.threads), "--batch", args.batch, "--runs",
                     str(args.runs), "--warmup", str(args.warmup), "--backends", backends,
                     *options], args.threads)
