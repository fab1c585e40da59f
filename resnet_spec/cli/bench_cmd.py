"""`resnet-spec bench SPEC`: inference latency of each backend, each alone in its own process.

This process never imports torch or a runtime: it starts `python -m resnet_spec.compiler.bench`
once to prepare the files and once per backend, reads one JSON line from each, and prints the
table (or `--json`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from resnet_spec.cli.completion import complete_list, complete_spec
from resnet_spec.cli.options import calibration_option, seed_option, weights_option
from resnet_spec.cores import usable_cores

BACKENDS = ("eager", "inference", "compile", "onnxruntime", "openvino", "aoti", "tensorrt")
FILE_BACKENDS = ("onnxruntime", "openvino", "aoti")
TIMEOUT_S = 3600
"""A backend process still running after this long is stopped and reported as failed."""


def _names(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    unknown = [n for n in names if n not in BACKENDS]
    if unknown or not names:
        raise click.BadParameter(f"unknown backend {unknown[0]!r}; choose from "
                                 f"{', '.join(BACKENDS)}" if unknown else "name one backend")
    return names


def _sizes(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(dict.fromkeys(int(v) for v in value.split(",") if v.strip()))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise click.BadParameter(f"{value!r}: expected batch sizes such as 1,8")
    return sizes


def _within_cores(ctx: click.Context, param: click.Parameter, value: int | None
                  ) -> int | None:
    """More threads than cores only slows every runtime down (and onnxruntime hangs
    creating 10,000 of them)."""
    if value is not None and value > usable_cores():
        raise click.BadParameter(f"{value}: this process may use {usable_cores()} cores; give at "
                                 f"most {usable_cores()}")
    return value


def _worker(args: dict[str, Any], threads: int) -> dict[str, Any]:
    """Run one bench process; its JSON, or {"status": "failed", "reason": last stderr line}."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    try:
        done = subprocess.run([sys.executable, "-m", "resnet_spec.compiler.bench",
                               json.dumps(args)], capture_output=True, text=True, env=env,
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return {"status": "failed", "reason": f"still running after {TIMEOUT_S} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        errors = [line for line in done.stderr.strip().splitlines() if line.strip()]
        return {"status": "failed", "reason": errors[-1] if errors else
                f"exited {done.returncode}"}
    return json.loads(lines[-1])


def _prepare(spec: str, folder: str, backends: Sequence[str], batches: Sequence[int],
             threads: int, *, precision: str = "fp32", calibration: str | None = None,
             weights: Path | None = None, seed: int = 0) -> dict[str, Any]:
    """The weights and the backends' files for `spec`, made in a bench process in `folder`."""
    return _worker({"command": "prepare", "spec": spec, "folder": folder,
                    "weights": os.fspath(weights) if weights else None, "seed": seed,
                    "backends": list(backends), "precision": precision,
                    "calibration": calibration, "batches": list(batches)}, threads)


def _run(backend: str, folder: str, batches: Sequence[int], runs: int, warmup: int,
         threads: int, precision: str, image: Any) -> dict[str, Any]:
    """One backend timed on `_prepare`'s files in its own bench process."""
    return _worker({"command": "run", "backend": backend, "folder": folder,
                    "batches": list(batches), "runs": runs, "warmup": warmup,
                    "threads": threads, "precision": precision, "input": image}, threads)


def time_spec(spec: str, backend: str, batch: int, threads: int, runs: int, warmup: int,
              seed: int = 0) -> dict[str, Any]:
    """One backend timed at one batch size as `bench` times it (prepared in one process, run
    in another, fp32): its figures (`median_ms`, quartiles, ...) with `status: ok`, or
    `status: failed` and the reason. What `sweep --measure` times each variant with."""
    with tempfile.TemporaryDirectory(prefix="resnet-spec-bench-") as folder:
        prepared = _prepare(spec, folder, [backend], [batch], threads, seed=seed)
        if prepared.get("status") == "failed":
            return prepared
        result = _run(backend, folder, [batch], runs, warmup, threads, "fp32",
                      prepared["input"])
    if result.get("status") != "ok":
        return {"status": "failed", "reason": result.get("reason", "no figures")}
    return {"status": "ok", **result["batches"][str(batch)]}


@click.command()
@click.argument("spec", metavar="SPEC", shell_complete=complete_spec)
@click.option("--batch", "batches", default="1,8", show_default=True, callback=_sizes,
              help="Batch sizes, comma-separated.")
@click.option("--backends", default=",".join(BACKENDS), show_default=True, callback=_names,
              shell_complete=complete_list(BACKENDS),
              help="Backends to time, comma-separated.")
@click.option("--threads", type=click.IntRange(min=1), default=None, callback=_within_cores,
              help="Threads for every runtime, at most the cores this process may use "
              "(the default).")
@click.option("--runs", type=click.IntRange(min=1), default=20, show_default=True,
              help="Timed runs per batch size (median, quartiles, min and max reported).")
@click.option("--warmup", type=click.IntRange(min=1), default=3, show_default=True,
              help="Untimed runs first (torch.compile compiles in the first).")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16", "int8"]),
              default="fp32", show_default=True,
              help="openvino's (fp32, bf16, fp16, int8), tensorrt's (fp32, fp16) and "
              "onnxruntime's (fp32, int8) precision; the torch backends run fp32.")
@calibration_option
@weights_option
@seed_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def bench(spec: str, batches: tuple[int, ...], backends: tuple[str, ...], threads: int | None,
          runs: int, warmup: int, precision: str, calibration: str | None,
          weights: Path | None, seed: int, as_json: bool) -> None:
    """Time SPEC's inference on each backend: latency, images/s, speedup against eager.

    Each backend runs alone in its own process (two runtimes' thread pools in one process
    fight over the cores), with --threads applied to every runtime; after --warmup untimed
    runs, --runs timed runs give the median, the quartiles, min and max, and the spread
    (interquartile range / median). Backends this machine cannot run are listed with the
    reason. The fastest at a batch size is named only when its quartiles do not overlap
    any other's (else the backends within the noise are listed) and the load average stayed
    within the cores; a spread over 10% or an overloaded machine is warned about.

    \b
    eager        the compiled module in eval mode (what torchvision runs)
    inference    build(for_inference=True): norms folded, dropout dropped, channels_last
    compile      torch.compile of the inference module
    onnxruntime  the onnx target in onnxruntime (all graph optimizations)
    openvino     the openvino target on the CPU, --precision explicit
    aoti         the aoti target (AOTInductor package, CPU; compiled while preparing,
                 for the one batch size when --batch names one)
    tensorrt     a TensorRT engine (CUDA and torch-tensorrt)

    \b
    Examples:
      resnet-spec bench resnet50 --threads 2
      resnet-spec bench resnet50 --backends eager,onnxruntime --batch 1,8,32 --json
      resnet-spec bench resnet50 --backends eager,tensorrt --precision fp16 --batch 64
      resnet-spec bench resnet50 --precision int8 --calibration random   # speed only
    """
    from resnet_spec.pipeline.memory import check_bench_fits
    from resnet_spec.spec.loader import load

    loaded = load(spec)  # a bad spec fails here, before any process starts
    name = loaded.name
    if precision == "int8":
        _check_int8(loaded, calibration, as_json)
    elif calibration is not None:
        raise click.UsageError(f"--calibration {calibration}: only --precision int8 "
                               "calibrates")
    check_bench_fits(loaded, batches, backends, weights_file=weights is not None)
    threads = threads or usable_cores()
    loads = [_load_average()]
    with tempfile.TemporaryDirectory(prefix="resnet-spec-bench-") as folder:
        _say(as_json, f"preparing {name}: weights"
             + "".join(f", {b} files" for b in backends if b in FILE_BACKENDS))
        prepared = _prepare(spec, folder, backends, batches, threads, precision=precision,
                            calibration=calibration, weights=weights, seed=seed)
        if prepared.get("status") == "failed":
            raise click.ClickException(f"preparing {name} failed: {prepared['reason']}")
        results = {}
        for backend in backends:
            _say(as_json, f"timing {backend} ...")
            results[backend] = _run(backend, folder, batches, runs, warmup, threads,
                                    precision, prepared["input"])
            results[backend].pop("backend", None)
            loads.append(_load_average())
    report = _report(name, spec, batches, threads, runs, warmup, precision, results,
                     prepared["checks"], loads)
    click.echo(json.dumps(report, indent=2) if as_json else _table(report))


def _check_int8(spec: Any, calibration: str | None, quiet: bool) -> None:
    """int8 needs --calibration (a usage error without it); the samples are read here first,
    so that a bad file fails before any process starts."""
    from resnet_spec.deploy.calibration import RANDOM_WARNING, load_calibration

    if calibration is None:
        raise click.UsageError("--precision int8 needs --calibration PATH: a folder of jpg/png "
                               "images or a .npy/.npz of preprocessed N×C×H×W arrays (or "
                               "--calibration random, for speed tests only)")
    if not load_calibration(calibration, spec).judged:
        click.echo(f"WARNING: {RANDOM_WARNING}", err=True)


def _say(quiet: bool, line: str) -> None:
    if not quiet:
        click.echo(line, err=True)


def _load_average() -> float:
    """The machine's 1-minute load average (0 where the platform has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def _report(name: str, spec: str, batches: tuple[int, ...], threads: int, runs: int,
            warmup: int, precision: str, results: dict[str, Any], checks: dict[str, Any],
            loads: list[float] | None = None, cores: int | None = None) -> dict[str, Any]:
    """The figures with speedups against eager (medians), and the verdicts of
    `bench_stats.judge`: the fastest backend at each batch (None within the noise), the
    backends within the noise of the lowest median, the warnings."""
    from resnet_spec.deploy.bench_stats import judge

    loads = loads if loads is not None else [_load_average()]
    cores = cores or os.cpu_count() or 1
    eager = results.get("eager", {})
    for batch in map(str, batches):
        base = eager.get("batches", {}).get(batch, {}).get("median_ms")
        for result in results.values():
            figures = result.get("batches", {}).get(batch) if result["status"] == "ok" else None
            if figures is not None:
                figures["speedup"] = base / figures["median_ms"] if base else None
    verdict = judge(results, batches, loads, cores)
    return {"name": name, "spec": spec, "batches": list(batches), "threads": threads,
            "runs": runs, "warmup": warmup, "precision": precision,
            "load_average": max(loads), "load_averages": loads, "cores": cores,
            "backends": results, **verdict, "checks": checks}


def _table(report: dict[str, Any]) -> str:
    head = (f"{report['name']}: {report['threads']} threads, {report['runs']} runs after "
            f"{report['warmup']} warm-up, precision {report['precision']}")
    rows = [head, "", f"{'backend':<12} {'batch':>5} {'median':>11} {'quartiles':>15} "
            f"{'min-max':>15} {'spread':>6} {'images/s':>9} {'vs eager':>8}"]
    for backend, result in report["backends"].items():
        if result["status"] != "ok":
            rows.append(f"{backend:<12} {result['status']}: {result['reason']}")
            continue
        for batch, f in result["batches"].items():
            speedup = f"{f['speedup']:.2f}x" if f.get("speedup") else "-"
            rows.append(f"{backend:<12} {batch:>5} {f['median_ms']:8.2f} ms "
                        f"{_range(f['q1_ms'], f['q3_ms']):>15} "
                        f"{_range(f['min_ms'], f['max_ms']):>15} {f['spread']:6.1%} "
                        f"{f['images_per_s']:9.1f} {speedup:>8}")
    rows.append("")
    for batch, best in report["fastest"].items():
        tied = report["within_noise"].get(batch, [])
        if best is not None:
            speedup = report["backends"][best]["batches"][batch].get("speedup")
            against = f" ({speedup:.2f}x eager)" if speedup else ""
            rows.append(f"fastest at batch {batch}: {best}{against}, beyond the noise")
        elif len(tied) > 1:
            rows.append(f"batch {batch}: no fastest named: {', '.join(tied)} are within the "
                        "noise of each other (their quartiles overlap)")
        elif tied:
            rows.append(f"batch {batch}: no fastest named (the machine was overloaded); "
                        f"lowest median {tied[0]}")
    rows.append(f"load average during the run: {report['load_average']:.2f} "
                f"(highest of {len(report['load_averages'])} readings; {report['cores']} cores)")
    rows += [f"warning: {line}" for line in report["warnings"]]
    return "\n".join(rows)


def _range(low: float, high: float) -> str:
    return f"{low:.2f}-{high:.2f} ms"
