"""`python -m resnet_spec.compiler.bench '{"command": "prepare" | "run", ...}'`: one JSON line
out. Started by `resnet-spec bench`, one process per backend (see the package docstring)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from resnet_spec.compiler.bench.backends import FILE_TARGETS, SPEC, WEIGHTS, load, missing
from resnet_spec.compiler.telemetry import quiet_runtimes
from resnet_spec.deploy.bench_stats import summarize


def prepare(args: dict[str, Any]) -> dict[str, Any]:
    """Write the spec, the weights and the files the file-based backends load, each checked
    against the module as `export` checks it."""
    from resnet_spec.compiler import compile_graph
    from resnet_spec.compiler.export import export_program, save_safetensors
    from resnet_spec.compiler.targets import Job, target
    from resnet_spec.deploy.options import BatchRange
    from resnet_spec.elaboration import elaborate
    from resnet_spec.spec.loader import load
    from resnet_spec.spec.resolved import resolved_yaml

    folder = Path(args["folder"])
    spec = load(args["spec"])
    (folder / SPEC).write_text(resolved_yaml(spec), encoding="utf-8")
    graph = elaborate(spec)
    module = compile_graph(graph, weights=args.get("weights"), seed=args["seed"]).eval()
    save_safetensors(module, folder / WEIGHTS)
    wanted = [t for b, t in FILE_TARGETS.items()
              if b in args["backends"] and missing(b) is None]
    checks = {}
    if wanted:
        samples = None
        if args.get("calibration") is not None and args["precision"] == "int8":
            from resnet_spec.deploy.calibration import load_calibration

            samples = load_calibration(args["calibration"], spec)
        # one batch size timed: the aoti package is compiled for it, as `export --to aoti
        # --batch N` would (weights prepacked for this process's threads, the run's too)
        sizes = args.get("batches") or []
        batch = BatchRange(*[sizes[0]] * 3) if len(sizes) == 1 else BatchRange()
        job = Job(graph, module, export_program(module, graph), folder, batch=batch,
                  precision=args["precision"] if "openvino" in wanted
                  or args["precision"] == "int8" else "fp32", calibration=samples)
        for name in wanted:
            checks[name] = target(name).build(job)["check"]
    return {"name": graph.name, "input": list(graph.input_shape), "checks": checks}


def run(args: dict[str, Any]) -> dict[str, Any]:
    """Time one backend at each batch size: warm-up, then `runs` timed runs, summarized by
    their quartiles (`bench_stats.summarize`)."""
    backend, batches = args["backend"], tuple(args["batches"])
    reason = missing(backend)
    if reason is not None:
        return {"backend": backend, "status": "skipped", "reason": reason}
    _set_threads(args["threads"])
    start = time.perf_counter()
    step = load(backend, Path(args["folder"]), args["threads"], args["precision"], batches)
    loaded = time.perf_counter() - start
    shape = tuple(args["input"])
    results = {}
    for batch in batches:
        x = np.random.default_rng(batch).standard_normal((batch, *shape), dtype=np.float32)
        figures = summarize(_time(step, x, args["warmup"], args["runs"]))
        figures["images_per_s"] = batch * 1e3 / figures["median_ms"]
        results[str(batch)] = figures
    return {"backend": backend, "status": "ok", "load_seconds": loaded, "batches": results}


def _set_threads(threads: int) -> None:
    """torch's intra-op pool to `threads` (ONNX Runtime and OpenVINO take it in their own
    settings; OMP_NUM_THREADS is set by the parent for everything else)."""
    import torch

    torch.set_num_threads(threads)


def _time(step: Any, x: np.ndarray, warmup: int, runs: int) -> list[float]:
    for _ in range(max(1, warmup)):
        step(x)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step(x)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    quiet_runtimes()  # before any runtime is imported: OpenVINO reports on import
    args = json.loads(sys.argv[1])
    result = prepare(args) if args["command"] == "prepare" else run(args)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
