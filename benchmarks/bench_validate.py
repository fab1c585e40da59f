"""How long `resnet-spec validate` takes, against the anchor `python -c "import torch"`.

Target of issue 2: validating resnet152 as a fresh process takes under half the time of a bare
`import torch`, both as processes, median of several interleaved runs (one untimed warm-up each,
so that neither pays for a cold disk cache). Also timed, for the record: the whole bad-spec
corpus through the CLI in one process, each corpus case in-process (load to error), and
generated hostile files just under the 1 MiB size limit (a flow list, a block mapping of keys,
comments), all of which must stay far below a second, since `validate` is meant to fail fast
even on hostile input.

    python benchmarks/bench_validate.py [--runs 7]

Exits 1 when the ratio misses the target.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time
from pathlib import Path

# `python benchmarks/bench_validate.py` puts benchmarks/ first on sys.path
from timing import interleaved, process_seconds

TARGET = 0.5
REPO = Path(__file__).resolve().parent.parent
BAD = REPO / "tests" / "bad"
ANCHOR = 'python -c "import torch"'


def corpus_in_process() -> dict[str, float]:
    """Seconds of `validate FILE` per corpus file, in this process (imports already paid)."""
    from resnet_spec.cli import main

    seconds = {}
    os.chdir(BAD)
    for path in sorted(BAD.glob("*.yaml")):
        sink = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stderr(sink), contextlib.suppress(SystemExit):
            main(["validate", path.name])
        seconds[path.name] = time.perf_counter() - start
    os.chdir(REPO)
    return seconds


def hostile_files() -> dict[str, str]:
    """Files of about 1 MiB that maximize parse work per byte, each a valid start."""
    head = "name: t\nstages:\n  - {depth: 1, width: 8}\n"
    room = (1 << 20) - len(head) - 16
    return {
        "flow list [1,1,...]": head + "x: [" + ",".join(["1"] * (room // 2)) + "]\n",
        "block mapping k0: 1 ...": head + "x:\n" + "".join(
            f"  k{i}: 1\n" for i in range(room // 12)),
        "comments": head + "#\n" * (room // 2),
    }


def hostile_in_process() -> dict[str, float]:
    """Seconds from text to error (or result) for each hostile file, in this process."""
    from resnet_spec.errors import SpecError
    from resnet_spec.spec.loader import validate
    from resnet_spec.spec.yaml_source import parse_text

    seconds = {}
    for name, text in hostile_files().items():
        start = time.perf_counter()
        with contextlib.suppress(SpecError):
            validate(*parse_text(text, "hostile.yaml"))
        seconds[name] = time.perf_counter() - start
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each command")
    args = parser.parse_args()
    validate = "resnet-spec validate resnet152"
    times = interleaved({
        validate: [sys.executable, "-m", "resnet_spec", "validate", "resnet152"],
        ANCHOR: [sys.executable, "-c", "import torch"],
    }, args.runs, cwd=REPO)
    anchor = statistics.median(times[ANCHOR])
    print(f"median of {args.runs} runs each, as processes ({sys.executable})")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<34} {median:6.3f} s   ratio to import torch  {median / anchor:.2f}")
    ratio = statistics.median(times[validate]) / anchor

    files = sorted(p.name for p in BAD.glob("*.yaml"))
    whole = process_seconds([sys.executable, "-m", "resnet_spec", "validate", *files], cwd=BAD,
                            expect=1)
    print(f"bad corpus, {len(files)} files in one `validate` process: {whole:.3f} s")
    per_case = corpus_in_process()
    slowest = max(per_case, key=per_case.__getitem__)
    print(f"bad corpus in-process: median {statistics.median(per_case.values()) * 1e3:.1f} ms "
          f"per case, slowest {slowest} {per_case[slowest] * 1e3:.1f} ms")

    for name, seconds in hostile_in_process().items():
        print(f"hostile 1 MiB file, {name:<24} {seconds * 1e3:7.1f} ms to its error")

    verdict = "meets" if ratio < TARGET else "MISSES"
    print(f"validate/import-torch ratio {ratio:.2f}: {verdict} the target of < {TARGET}")
    return 0 if ratio < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
