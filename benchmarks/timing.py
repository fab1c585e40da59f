"""Wall time of commands run as fresh processes, shared by the process benchmarks.

`interleaved` gives each command one untimed warm-up (the first run reads the interpreter's and
torch's files from disk), then times the commands taking turns, so that a slow moment of the
machine hits all of them alike.
"""

from __future__ import annotations

import json
import os
import subprocess
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
