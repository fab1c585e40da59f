"""`benchmarks/gpu_check.py` on the CPU (issue 26): the JSON it writes and the table it prints
for a tiny spec, its usage errors, the time budget, and a variant's failure kept to its row.
The GPU run itself is recorded in docs/benchmarks.md when a GPU machine is at hand."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "benchmarks"
SCRIPT = BENCHMARKS / "gpu_check.py"
QUICK = ["--device", "cpu", "--spec", "cifar_resnet20", "--batches", "1,2", "--repeats", "2",
         "--warmup", "1", "--anchor", "resnet18"]

pytest.importorskip("torchvision")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=600, check=False)


def _row(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(row for row in report["variants"] if row["name"] == name)


def test_a_cpu_run_writes_the_json_and_prints_the_table(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    done = _run(*QUICK, "--variants", "export-fp32,export-bf16-cast,tensorrt-fp16",
                "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["device"]["type"] == "cpu" and report["spec"] == "cifar_resnet20"
    assert report["versions"]["torch"] and report["batches"] == [1, 2]
    assert report["check_batch"] == 2 and report["repeats"] == 2
    assert [row["name"] for row in report["variants"]] == [
        "torchvision-fp32", "export-fp32", "export-bf16-cast", "tensorrt-fp16"]
    for name in ("torchvision-fp32", "export-fp32", "export-bf16-cast"):
        row = _row(report, name)
        assert row["status"] == "ok", row
        for batch, cell in row["batches"].items():
            assert cell["status"] == "ok" and cell["median_ms"] > 0
            assert cell["images_per_s"] == pytest.approx(int(batch) * 1e3 / cell["median_ms"],
                                                         rel=1e-3, abs=1e-3)
            assert cell["ratio_vs_anchor"] > 0
    assert all(cell["ratio_vs_anchor"] == 1.0
               for cell in _row(report, "torchvision-fp32")["batches"].values())
    # resnet18's weights do not fit cifar_resnet20: the anchor's outputs are not compared
    assert _row(report, "torchvision-fp32")["accuracy"] is None
    exact = _row(report, "export-fp32")["accuracy"]
    assert exact["max_abs_error"] == 0.0 and exact["top1_agree"] == 2 and exact["of"] == 2
    bf16 = _row(report, "export-bf16-cast")["accuracy"]
    assert bf16["max_abs_error"] > 0.0 and bf16["relative_error"] < 0.05
    assert bf16["reference_max_abs"] > 0
    trt = _row(report, "tensorrt-fp16")
    if importlib.util.find_spec("torch_tensorrt") is None:
        assert trt["status"] == "not run"
        assert "torch_tensorrt does not import" in trt["error"]
        assert {cell["status"] for cell in trt["batches"].values()} == {"not run"}
    assert report["published"]["samples_per_s"] == 88526
    assert report["best"]["images_per_s"] == max(
        cell["images_per_s"] for row in report["variants"] for cell in row["batches"].values()
        if cell["status"] == "ok")
    assert report["target"]["met"] is None and report["target"]["variant"] == "compile-bf16"
    assert "not measured" in report["target"]["note"]

    table = done.stdout
    assert "torchvision resnet18 eager fp32 at 3x224x224" in table
    assert "variant" in table and "batch 1" in table and "batch 2" in table
    export_line = next(line for line in table.splitlines() if line.startswith("export-fp32"))
    assert "0.00e+00" in export_line and "2/2" in export_line and "/s" in export_line
    if trt["status"] == "not run":
        assert "tensorrt-fp16" in table and "not run: torch_tensorrt does not import" in table
    assert "88,526 samples/s" in table and "target: bf16 + torch.compile + CUDA graphs" in table
    assert f"written: {out}" in table


def test_a_budget_spent_skips_every_step_and_still_writes(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    done = _run(*QUICK, "--variants", "export-fp32", "--budget", "0", "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert "--budget" in report["stopped_early"]
    assert {row["status"] for row in report["variants"]} == {"skipped"}
    assert report["best"] is None
    assert "stopped early" in done.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--variants", "export-fp32,nope"], "--variants export-fp32,nope: unknown nope (choose"),
    (["--batches", "1,0"], "--batches 1,0: expected positive integers"),
    (["--repeats", "0"], "--repeats 0: too small"),
])
def test_usage_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    done = _run("--device", "cpu", *args)
    assert done.returncode == 2
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1
    assert not done.stdout


def test_a_bad_spec_is_exit_1_a_bad_anchor_or_no_gpu_exit_2(tmp_path: Path) -> None:
    import torch

    done = _run("--device", "cpu", "--spec", "nosuch", "--out", str(tmp_path / "r.json"))
    assert done.returncode == 1
    assert done.stderr == ("nosuch: no spec file or built-in spec named `nosuch`; "
                           "`resnet-spec list` shows the built-ins\n")
    assert not (tmp_path / "r.json").exists()
    done = _run("--device", "cpu", "--anchor", "nosuch")
    assert done.returncode == 2
    assert done.stderr == "--anchor nosuch: not a torchvision model (resnet50, resnet18, ...)\n"
    if not torch.cuda.is_available():
        done = _run("--spec", "cifar_resnet20", "--out", str(tmp_path / "r.json"))
        assert done.returncode == 2
        assert done.stderr == ("--device cuda: torch sees no CUDA GPU here "
                               "(--device cpu runs on the CPU)\n")


def test_a_failing_variant_is_a_row_and_an_oom_a_cell(tmp_path: Path) -> None:
    """In-process, with variants that fail on purpose: the run goes on around them."""
    import torch

    sys.path.insert(0, str(BENCHMARKS))
    try:
        import gpu_check
        import gpu_report
        import gpu_variants
    finally:
        sys.path.remove(str(BENCHMARKS))

    def broken(models: gpu_variants.Models) -> gpu_variants.Runner:
        raise RuntimeError("no kernel for this\nsecond line")

    def out_of_memory_at_2(x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return models.program.module()(x)

    args = gpu_check.options([*QUICK, "--out", str(tmp_path / "r.json")])
    models = gpu_variants.Models("cifar_resnet20", torch.device("cpu"), "resnet18",
                                 args.batches, args.check_batch)
    report = gpu_report.Report(args.out, {"variants": []})
    budget = gpu_check.Budget(600.0, 0.0)
    variants = [gpu_variants.Variant("broken", "fails to build", broken),
                gpu_variants.Variant("big", "runs out of memory at batch 2",
                                     lambda m: gpu_variants.Runner(out_of_memory_at_2))]
    with torch.no_grad():
        for variant in variants:
            gpu_check.measure(variant, models, args, report, budget)
    failed, big = report.document["variants"]
    assert failed["status"] == "error"
    assert failed["error"] == "RuntimeError: no kernel for this"
    assert {cell["status"] for cell in failed["batches"].values()} == {"error"}
    assert big["status"] == "ok" and big["batches"]["1"]["status"] == "ok"
    assert big["batches"]["2"] == {"status": "error", "error": "out of memory (OutOfMemoryError)"}
    assert big["accuracy"] is None and "out of memory" in big["error"]


def test_only_missing_or_older_packages_are_installed_from_wheels() -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import gpu_setup
    finally:
        sys.path.remove(str(BENCHMARKS))
    installed = importlib.metadata.version("pydantic")
    wheel = Path(f"pydantic-{installed}-py3-none-any.whl")
    assert gpu_setup.wheel_name_version(wheel) == ("pydantic", installed)
    assert not gpu_setup.needed(wheel)
    assert not gpu_setup.needed(Path("pydantic-0.1-py3-none-any.whl"))
    assert gpu_setup.needed(Path("pydantic-999.0-py3-none-any.whl"))
    assert gpu_setup.needed(Path("no_such_package_here-1.0-py3-none-any.whl"))
    assert gpu_setup.wheel_name_version(Path(
        "pydantic_core-2.46.4-cp312-cp312-manylinux_2_17_x86_64.whl")) == ("pydantic-core",
                                                                          "2.46.4")


@pytest.mark.slow
def test_the_install_for_a_gpu_machine_gives_a_working_project(tmp_path: Path) -> None:
    """`--wheels`' install: the project from the working tree into a folder of its own (built
    by pip, no network), importable from there with its specs and back end."""
    site, wheels = tmp_path / "site", tmp_path / "wheels"
    wheels.mkdir()
    install = (f"import sys; sys.path.insert(0, {str(BENCHMARKS)!r}); import gpu_setup; "
               f"from pathlib import Path; print(gpu_setup.install(Path({str(REPO)!r}), "
               f"Path({str(wheels)!r}), Path({str(site)!r})))")
    done = subprocess.run([sys.executable, "-c", install], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"['resnet-spec from {REPO}']"
    check = ("import resnet_spec, resnet_spec.compiler.targets.tensorrt as t; print("
             "resnet_spec.__file__, t.__file__, len(resnet_spec.elaborate('resnet50').nodes()))")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(site)},
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    front, back, nodes = done.stdout.split()
    assert front.startswith(str(site)) and back.startswith(str(site)) and int(nodes) > 100
