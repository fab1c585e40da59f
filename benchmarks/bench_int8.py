"""int8 inference speed against torchvision eager f32 (issue 22).

Runs `resnet-spec bench MODEL --precision int8 --calibration random --json` (onnxruntime and
OpenVINO, each alone in its own process; random calibration: speed only) and, in its own
process with the same protocol (threads, warm-up, median of --runs), torchvision's model in
eval mode at f32: the anchor. Rounds alternate anchor and bench, so that load from other
processes hits both alike; each figure is the median over rounds. Target: on a CPU with VNNI
(avx512_vnni, avx_vnni or amx_int8) the fastest int8 backend is at least 4.5x torchvision
eager f32 at batch 1 and 8 (ResNet-50, 2 threads).

    python benchmarks/bench_int8.py [--model resnet50] [--threads 2] [--runs 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench_deploy import alternate, report
from timing import eager_arguments

TARGET = 4.5
BACKENDS = "onnxruntime,openvino"
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def vnni_flags() -> list[str]:
    """The int8 dot-product instructions this CPU has, from /proc/cpuinfo (Linux)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return []
    return [flag for flag in VNNI_FLAGS if flag in flags]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    eager_arguments(parser, rounds=2, rounds_help="anchor/bench alternations")
    parser.add_argument("--backends", default=BACKENDS)
    args = parser.parse_args()
    anchor_runs, bench_runs = alternate(args, "--precision", "int8", "--calibration", "random")
    flags = vnni_flags()
    found = ", ".join(flags) if flags else "no VNNI (the target applies to CPUs with VNNI)"
    print(f"CPU int8 instructions: {found}")
    report(args, anchor_runs, bench_runs, precision="int8 against torchvision eager f32",
           target=TARGET)


if __name__ == "__main__":
    main()
