"""How long `resnet-spec render cifar_resnet1202 --level layers -o x.svg` takes as a process.

The target of issue 4: the op-level diagram of the deepest built-in net (600 blocks, 4,208 IR
nodes, collapsed by default into runs of identical blocks) in under 10 s, laid out by whichever
renderer the command finds (the system `dot`, else the `graphviz-pure` binary).

    python benchmarks/bench_render.py [--runs 5] [--spec cifar_resnet1202] [--level layers]

Prints each run and the median, with the ratio to the target; exits 1 when the median misses it.
It also times the uncollapsed blocks level (1,204 boxes) for reference, not against the target.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

# `python benchmarks/bench_render.py` puts benchmarks/ first on sys.path
from timing import interleaved, process_seconds

TARGET_S = 10.0


def render_command(spec: str, level: str, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "resnet_spec", "render", spec, "--level", level, "-o",
            str(out), *extra]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--spec", default="cifar_resnet1202")
    parser.add_argument("--level", default="layers")
    args = parser.parse_args()
    renderer = shutil.which("dot") or shutil.which("graphviz-pure") or "none found"
    print(f"renderer: {renderer}; python: {sys.executable}")
    with tempfile.TemporaryDirectory() as folder:
        target = render_command(args.spec, args.level, Path(folder) / "x.svg")
        times = interleaved({"target": target}, args.runs)["target"]
        full = render_command(args.spec, "blocks", Path(folder) / "y.svg", "--no-collapse")
        reference = process_seconds(full)
    median = statistics.median(times)
    runs = " ".join(f"{t:.2f}" for t in times)
    print(f"render {args.spec} --level {args.level} -o x.svg: runs {runs} s")
    print(f"median {median:.2f} s against the {TARGET_S:.0f} s target: ratio "
          f"{median / TARGET_S:.2f} ({'meets' if median < TARGET_S else 'MISSES'} it)")
    print(f"for reference, --level blocks --no-collapse (every block drawn): {reference:.2f} s")
    return 0 if median < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
