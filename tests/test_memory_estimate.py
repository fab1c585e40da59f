"""The memory preflight (issue 21): what `build`, `export` and `bench` really run (batches,
targets, checks), judged against the smallest of free memory, the cgroup's limit and the
resource limits, with an estimate within 1.5x of the measured peak (here on small specs;
`benchmarks/bench_memory.py` on large ones)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import resnet_spec
from resnet_spec.deploy.options import BatchRange
from resnet_spec.ir.cost import analyze
from resnet_spec.pipeline import memory as bm

WIDE_STEM = ("name: wide_stem\ninput: {channels: 3, height: 256, width: 256}\n"
             "stem: {kind: conv, width: 64, kernel: 3, stride: 1, pool: none}\n"
             "stages:\n  - {depth: 1, width: 64}\n  - {depth: 1, width: 128, stride: 2}\n"
             "head: {pool: avg, classes: 10}\n")
"""Activations dominate: 16 MiB an image at the stem."""


def _need(spec: str, workload: bm.Workload) -> int:
    graph = resnet_spec.elaborate(spec)
    return bm.estimate(graph, analyze(graph), workload).total


def test_export_counts_its_batches_and_targets() -> None:
    build = _need("cifar_resnet20", bm.BUILD)
    onnx = bm.pipeline_workload(("onnx",), BatchRange().check_batches(), full=False)
    assert _need("cifar_resnet20", onnx) > build
    big = bm.pipeline_workload(("onnx",), BatchRange.parse("4096").check_batches(), full=False)
    assert big.batch == 4096 and big.batch_option
    assert _need("cifar_resnet20", big) > _need("cifar_resnet20", onnx) + (1 << 30)
    assert bm.pipeline_workload(("pt2",), (1,), full=False).batch == bm.CHECK_BATCH
    assert bm.pipeline_workload((), (), weights_file=True).weight_copies == \
        bm.BUILD.weight_copies + 1


def test_a_batch_too_large_is_refused_naming_batch(run_cli, monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setattr(bm, "available_memory", lambda: 4 << 30)
    result = run_cli("export", "cifar_resnet20", "--to", "pt2", "--batch", "65536",
                     "--out", str(tmp_path / "out"))
    assert result.code == 1 and "exporting needs about" in result.err
    assert "at batch 65536" in result.err and "a smaller --batch" in result.err
    assert list(tmp_path.iterdir()) == []


def test_bench_is_refused_before_any_process(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bm, "available_memory", lambda: 2 << 30)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("a process started"))
    result = run_cli("bench", "wide_resnet101_2", "--backends", "eager")
    assert result.code == 1 and "stages[" in result.err and "needs about" in result.err
    result = run_cli("bench", "cifar_resnet20", "--batch", "1,60000", "--backends", "eager")
    assert result.code == 1 and "benchmarking needs about" in result.err


def test_rlimit_as_bounds_what_is_available() -> None:
    code = ("import resource, sys; from resnet_spec.pipeline.memory import available_memory; "
            "size = int([l for l in open('/proc/self/status') if l.startswith('VmSize')][0]"
            ".split()[1]) * 1024; "
            "resource.setrlimit(resource.RLIMIT_AS, (size + (300 << 20), resource.RLIM_INFINITY)); "
            "print(available_memory())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert 0 < int(done.stdout) <= 300 << 20


def test_the_cgroup_limit_of_this_process_or_a_parent_counts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parent, child = tmp_path / "parent", tmp_path / "parent" / "child"
    child.mkdir(parents=True)
    (child / "memory.max").write_text("max\n")
    (child / "memory.current").write_text("100\n")
    (parent / "memory.max").write_text(f"{1 << 30}\n")
    (parent / "memory.current").write_text(f"{256 << 20}\n")
    monkeypatch.setattr(bm, "_cgroup_folders", lambda: [child, parent])
    assert bm._cgroup_room() == (1 << 30) - (256 << 20)
    monkeypatch.setattr(bm, "_meminfo_available", lambda: 64 << 30)
    monkeypatch.setattr(bm, "_rlimit_room", lambda: None)
    assert bm.available_memory() == (1 << 30) - (256 << 20)


PEAK = """
import os, subprocess, sys
process = subprocess.Popen([sys.executable, "-m", "resnet_spec", *sys.argv[1:]],
                           stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(process.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024)
"""
"""Run from a fresh small process: Linux counts in a child's peak the memory of the process it
was forked from (this test process holds gigabytes by now), and exec does not reset it."""


def _peak(args: list[str]) -> int:
    """Peak resident bytes of `python -m resnet_spec ARGS` and its children."""
    done = subprocess.run([sys.executable, "-c", PEAK, *args], capture_output=True, text=True,
                          check=True)
    code, peak = map(int, done.stdout.split())
    assert code == 0, done.stderr
    return peak


@pytest.mark.slow
@pytest.mark.parametrize("case", ["build wide_stem", "export wide_stem onnx",
                                  "bench cifar_resnet20"])
def test_the_estimate_is_within_one_and_a_half_times_the_measured_peak(
        tmp_path: Path, case: str) -> None:
    stem = tmp_path / "wide_stem.yaml"
    stem.write_text(WIDE_STEM)
    out = ["--out", str(tmp_path / "out"), "-q"]
    runs = {
        "build wide_stem": (["build", str(stem), *out], str(stem), [bm.BUILD]),
        "export wide_stem onnx": (
            ["export", str(stem), "--to", "onnx", "--batch", "8", *out], str(stem),
            [bm.pipeline_workload(("onnx",), (8,), full=False)]),
        "bench cifar_resnet20": (
            ["bench", "cifar_resnet20", "--backends", "eager,onnxruntime", "--batch", "1,64",
             "--runs", "1", "--warmup", "1"], "cifar_resnet20",
            bm.bench_workloads((1, 64), ("eager", "onnxruntime"))),
    }
    args, spec, workloads = runs[case]
    estimate = max(_need(spec, w) for w in workloads)
    peak = _peak(args)
    assert 1 / 1.5 <= estimate / peak <= 1.5, (estimate / 2**20, peak / 2**20)
