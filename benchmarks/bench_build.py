"""Build time against torchvision (issue 3), both measured in this run, interleaved.

1. random init: `resnet_spec.build(MODEL)` against `torchvision.models.MODEL()`;
   the floor beside it: drawing the convs' Kaiming-normal weights alone (allocate + fill);
2. with weights: `resnet_spec.build(MODEL, weights=FILE)` against torchvision's construct +
   `load_state_dict(safetensors.torch.load_file(FILE))`, FILE written once from torchvision.

Each figure is the median of `--repeats` runs; anchor and candidate alternate, so that load
from other processes hits both alike. Wall-clock and process CPU time are both printed.

    python benchmarks/bench_build.py [--model resnet152] [--repeats 7]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from safetensors.torch import load_file, save_file

import resnet_spec

Timing = tuple[float, float]
"""(wall seconds, process CPU seconds)"""


def timed(fn: Callable[[], object]) -> Timing:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def interleaved(repeats: int, **fns: Callable[[], object]) -> dict[str, Timing]:
    """Median (wall, cpu) of each function, run in turn `repeats` times after one warm-up."""
    runs: dict[str, list[Timing]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            runs[name].append(timed(fn))
    return {
        name: (statistics.median(t[0] for t in ts), statistics.median(t[1] for t in ts))
        for name, ts in runs.items()
    }


def conv_fill(model: str) -> Callable[[], object]:
    """The floor of random init: allocate and Kaiming-fill exactly the model's conv weights."""
    shapes = [s for k, s in resnet_spec.elaborate(model).state_shapes().items() if len(s) == 4]

    def fill() -> list[torch.Tensor]:
        gen = torch.Generator().manual_seed(0)
        return [torch.empty(s).normal_(0, 0.01, generator=gen) for s in shapes]

    return fill


def report(title: str, times: dict[str, Timing], anchor: str) -> None:
    print(f"\n{title}")
    base_wall, base_cpu = times[anchor]
    for name, (wall, cpu) in times.items():
        print(f"  {name:<28} wall {wall * 1000:8.1f} ms  ({wall / base_wall:5.2f}x)"
              f"   cpu {cpu * 1000:8.1f} ms  ({cpu / base_cpu:5.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet152", help="a torchvision ResNet name")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs of each (median)")
    args = parser.parse_args()
    name = args.model
    tv_builder = getattr(torchvision.models, name)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"threads {torch.get_num_threads()}, model {name}, repeats {args.repeats}")

    times = interleaved(
        args.repeats,
        **{f"torchvision.models.{name}()": tv_builder,
           f"resnet_spec.build({name!r})": lambda: resnet_spec.build(name),
           "floor: conv weights fill": conv_fill(name)},
    )
    report("random init", times, f"torchvision.models.{name}()")

    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / f"{name}.safetensors"
        save_file(tv_builder().state_dict(), file)
        times = interleaved(
            args.repeats,
            **{"torchvision + load_state_dict": lambda: tv_builder().load_state_dict(
                load_file(file)),
               "resnet_spec.build(weights=)": lambda: resnet_spec.build(name, weights=file)},
        )
    report("with a safetensors weights file", times, "torchvision + load_state_dict")


if __name__ == "__main__":
    main()
