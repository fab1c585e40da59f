"""GPU inference of a spec on CUDA, variant by variant, against torchvision eager (issue 26).

For the spec (default resnet50) on the device: the exported program at fp32, bf16 and fp16
(autocast and cast), torch.compile (max-autotune: CUDA graphs on CUDA), AOTInductor
packages, and the project's TensorRT target where torch_tensorrt imports. Each variant's output
is compared with the exported program's in full fp32 on a fixed batch (max error, top-1
agreement), and each is timed at every batch (warm-up, then the median of --repeats; CUDA
events on CUDA, perf_counter on the CPU) against torchvision's ResNet-50 eager fp32 on the same
device. A variant that fails (out of memory, a missing package or torch feature) is a row with
its error; a step starts only while the --budget has time for it, so the run ends cleanly.

One JSON (--out; $OUT/gpu_check.json where OUT is set) is rewritten after every cell; a table
is printed at the end. On a GPU machine with its own torch and no network, --wheels installs the
project from the working tree first (`gpu_setup.py`):

    python3 benchmarks/gpu_check.py --wheels .whl              # on the GPU machine
    python benchmarks/gpu_check.py --device cpu --batches 1,2  # anywhere
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

START = time.monotonic()
ROOT = Path(__file__).resolve().parent.parent
CUDA_BATCHES = "1,8,64,256"
CPU_BATCHES = "1,8"


def options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="variants: " + ", ".join(_variant_names()) + " (the anchor "
               "torchvision-fp32 always runs)")
    parser.add_argument("--spec", default="resnet50", help="a built-in spec or a spec file")
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"),
                        help="default cuda")
    parser.add_argument("--batches", help=f"default {CUDA_BATCHES} on cuda, {CPU_BATCHES} on cpu")
    parser.add_argument("--variants", default="all", help="comma-separated names, or all")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls per batch (5)")
    parser.add_argument("--repeats", type=int, default=20,
                        help="timed calls per batch, of which the median (20)")
    parser.add_argument("--check-batch", type=int,
                        help="batch of the accuracy check (default: the largest timed batch "
                             "up to 16)")
    parser.add_argument("--anchor", default="resnet50", help="the torchvision model timed as "
                        "the anchor, eager fp32 at 3x224x224")
    parser.add_argument("--budget", type=float, default=400.0,
                        help="seconds in all (400); no step starts without the time it "
                             "needs")
    parser.add_argument("--reserve", type=float, default=90.0,
                        help="seconds a compiling step needs left before it starts (90), or "
                             "as long as the longest compile so far")
    parser.add_argument("--out", type=Path, help="the JSON file (default $OUT/gpu_check.json "
                        "where OUT is set, else ./gpu_check.json)")
    parser.add_argument("--wheels", type=Path, metavar="DIR", help="first install the "
                        "project and the wheels in DIR that this machine lacks into --site, "
                        "with --no-deps (gpu_setup.py)")
    parser.add_argument("--site", type=Path, metavar="DIR", default=Path("/tmp/resnet-spec-site"),
                        help="where --wheels installs (default /tmp/resnet-spec-site)")
    args = parser.parse_args(argv)
    args.batches = _positive_list("--batches", args.batches or (
        CUDA_BATCHES if args.device == "cuda" else CPU_BATCHES))
    names = _variant_names() if args.variants == "all" else args.variants.split(",")
    unknown = [name for name in names if name not in _variant_names()]
    if unknown:
        _usage(f"--variants {args.variants}: unknown {', '.join(unknown)} "
               f"(choose from {', '.join(_variant_names())}, or all)")
    args.variants = ["torchvision-fp32"] + [n for n in _variant_names()
                                            if n in names and n != "torchvision-fp32"]
    for name in ("warmup", "repeats"):
        if getattr(args, name) < (0 if name == "warmup" else 1):
            _usage(f"--{name} {getattr(args, name)}: too small")
    if args.check_batch is None:
        small = [b for b in args.batches if b <= 16]
        args.check_batch = max(small) if small else min(args.batches)
    elif args.check_batch < 1:
        _usage(f"--check-batch {args.check_batch}: must be at least 1")
    if args.out is None:
        args.out = Path(os.environ["OUT"]) / "gpu_check.json" if os.environ.get("OUT") \
            else Path("gpu_check.json")
    return args


def _variant_names() -> list[str]:
    from gpu_variants import VARIANTS  # imports neither torch nor the project

    return [variant.name for variant in VARIANTS]


def _positive_list(option: str, text: str) -> list[int]:
    parts = text.split(",")
    if not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        _usage(f"{option} {text}: expected positive integers separated by commas (1,8,64)")
    return sorted({int(p) for p in parts})


def _usage(message: str) -> None:
    print(message, file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    args = options(argv)
    installed = []
    if args.wheels is not None:
        import gpu_setup

        installed = gpu_setup.install(ROOT, args.wheels, args.site)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        _usage("--device cuda: torch sees no CUDA GPU here (--device cpu runs on the CPU)")
    import torchvision

    if not callable(getattr(torchvision.models, args.anchor, None)):
        _usage(f"--anchor {args.anchor}: not a torchvision model (resnet50, resnet18, ...)")
    from gpu_report import Report, table
    from gpu_variants import BY_NAME, Models

    from resnet_spec.errors import SpecError

    try:
        models = Models(args.spec, torch.device(args.device), args.anchor, args.batches,
                        args.check_batch)
    except SpecError as err:  # the user's, before any row
        print(err, file=sys.stderr)
        return 1
    report = Report(args.out, header(args, torch, installed))
    budget = Budget(args.budget, args.reserve)
    try:
        with torch.no_grad():
            for name in args.variants:
                measure(BY_NAME[name], models, args, report, budget)
                report.save()
    finally:
        models.close()
    if budget.stopped:
        report.document["stopped_early"] = budget.stopped
    report.finish(time.monotonic() - START)
    print(table(report.document), flush=True)
    return 0


class Budget:
    """Whether a step may start: a compiling one needs `reserve` seconds left, or as long as
    the longest compile seen so far; any other needs some time left."""

    def __init__(self, total: float, reserve: float) -> None:
        self.total = total
        self.reserve = reserve
        self.stopped: str | None = None

    def left(self) -> float:
        return self.total - (time.monotonic() - START)

    def allows(self, compiles: bool) -> bool:
        need = self.reserve if compiles else 0.0
        if self.left() > need:
            return True
        self.stopped = f"the --budget of {self.total:.0f} s left too little for what remained"
        return False

    def saw_compile(self, seconds: float) -> None:
        self.reserve = max(self.reserve, seconds)


def header(args: argparse.Namespace, torch: Any, installed: list[str]) -> dict[str, Any]:
    """What the run is: device, versions, settings, protocol (the report's head)."""
    cuda = args.device == "cuda"
    if cuda:
        props = torch.cuda.get_device_properties(0)
        device = {"type": "cuda", "name": props.name,
                  "capability": f"{props.major}.{props.minor}",
                  "memory_gib": round(props.total_memory / 2**30, 1)}
    else:
        device = {"type": "cpu", "name": _cpu_name(), "threads": torch.get_num_threads()}
    timer = "CUDA events" if cuda else "perf_counter"
    return {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "spec": args.spec, "device": device, "versions": versions(torch),
        "settings": {"cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
                     "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
                     "cudnn_benchmark": torch.backends.cudnn.benchmark},
        "project": project(), "installed": installed,
        "batches": args.batches, "check_batch": args.check_batch,
        "warmup": args.warmup, "repeats": args.repeats, "budget_s": args.budget,
        "timing": f"median of {args.repeats} calls after {args.warmup} warm-up, {timer}",
        "anchor": {"variant": "torchvision-fp32",
                   "what": f"torchvision {args.anchor} eager fp32 at 3x224x224"},
        "reference": "the exported program at fp32 (TF32 off)", "out": str(args.out),
        "stopped_early": None,
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            return next(line.split(":", 1)[1].strip() for line in info
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def project() -> dict[str, str | None]:
    """Where the project ran from, and the tree's commit where git can tell (a copy of the
    working tree without .git cannot)."""
    import resnet_spec

    def git(*args: str) -> str | None:
        if not shutil.which("git"):
            return None
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                              check=False)
        return done.stdout.strip() if done.returncode == 0 else None

    commit, changes = git("rev-parse", "HEAD"), git("status", "--porcelain")
    return {"path": str(Path(resnet_spec.__file__).parent), "commit": commit,
            "uncommitted_changes": bool(changes) if changes is not None else None}


def versions(torch: Any) -> dict[str, str | None]:
    import importlib.metadata

    def version(package: str) -> str | None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {"python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "cudnn": str(cudnn) if cudnn else None,
            "torchvision": version("torchvision"), "triton": version("triton"),
            "torch_tensorrt": version("torch-tensorrt"), "resnet_spec": version("resnet-spec")}


def measure(variant: Any, models: Any, args: argparse.Namespace, report: Any,
            budget: Budget) -> None:
    """One variant's row: make its runner, time each batch (largest first: the target's
    batch before the budget can run out), compare its output on the check batch."""
    import torch
    from gpu_variants import Unavailable

    row = report.row(variant.name, variant.what, args.batches)
    if not budget.allows(variant.slow_setup):
        row.update(status="skipped", error="time budget")
        _skip_rest(row)
        progress(f"{variant.name}: skipped (time budget)")
        return
    progress(f"{variant.name}: setting up")
    start = time.monotonic()
    try:
        runner = variant.make(models)
    except Unavailable as err:
        row.update(status="not run", error=str(err))
        _skip_rest(row, "not run")
        progress(f"{variant.name}: not run: {err}")
        return
    except Exception as err:  # one variant's failure is its row, not the run's end
        row.update(status="error", error=describe(err))
        _skip_rest(row, "error")
        progress(f"{variant.name}: error: {row['error']}")
        _release()
        return
    row["setup_s"] = round(time.monotonic() - start, 2)
    if variant.slow_setup:
        budget.saw_compile(row["setup_s"])
    row["status"] = "ok"
    for batch in sorted(args.batches, reverse=True):
        cell = row["batches"][str(batch)]
        if not budget.allows(runner.compiles):
            cell.update(status="skipped", error="time budget")
            continue
        x = None
        try:
            x = _input(runner, models, batch, torch)
            ms, first = median_ms(runner, x, models.device, args.warmup, args.repeats, torch)
        except Exception as err:  # out of memory at this batch, say: the next may fit
            cell.update(status="error", error=describe(err))
            progress(f"{variant.name}: batch {batch}: error: {cell['error']}")
            del x
            _release()
            continue
        del x
        if runner.compiles:
            budget.saw_compile(first)
        cell.update(status="ok", median_ms=round(ms, 4), first_call_s=round(first, 3),
                    images_per_s=round(batch * 1000.0 / ms, 3))
        progress(f"{variant.name}: batch {batch}: {cell['images_per_s']:,.0f} images/s "
                 f"(first call {first:.1f} s)")
        report.save()
    checked = row["batches"].get(str(models.check_batch), {}).get("status") == "ok"
    if budget.allows(runner.compiles and not checked):
        try:
            row["accuracy"] = accuracy(runner, models, torch)
        except Exception as err:
            row["accuracy"] = None
            row["error"] = f"accuracy check: {describe(err)}"
    if runner.compiles:
        torch._dynamo.reset()  # its compiled graphs and CUDA graph pools
    del runner
    _release()


def _skip_rest(row: dict[str, Any], status: str = "skipped") -> None:
    for cell in row["batches"].values():
        cell["status"] = status


def _input(runner: Any, models: Any, batch: int, torch: Any) -> Any:
    shape = runner.shape or tuple(models.graph.input_shape)
    generator = torch.Generator().manual_seed(batch)
    x = torch.randn((batch, *shape), generator=generator)
    return x.to(models.device, getattr(torch, runner.dtype))


def median_ms(runner: Any, x: Any, device: Any, warmup: int, repeats: int,
              torch: Any) -> tuple[float, float]:
    """The median milliseconds of one call on `x`, and the seconds of the first call (where
    compiling happens)."""
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    times = []
    with runner.context():
        start = time.perf_counter()
        runner.step()
        runner.call(x)
        sync()
        first = time.perf_counter() - start
        for _ in range(max(warmup - 1, 0)):
            runner.step()
            runner.call(x)
        sync()
        for _ in range(repeats):
            runner.step()
            if cuda:
                begin, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
                begin.record()
                runner.call(x)
                end.record()
                end.synchronize()
                times.append(begin.elapsed_time(end))
            else:
                begin_s = time.perf_counter()
                runner.call(x)
                times.append((time.perf_counter() - begin_s) * 1000.0)
    return statistics.median(times), first


def accuracy(runner: Any, models: Any, torch: Any) -> dict[str, Any] | None:
    """The runner's output on the fixed batch against the fp32 reference: the largest
    absolute difference, that over the reference's largest magnitude, and how many images
    have the same top-1 class. NaN or inf in the output is an error (`max_error`'s)."""
    from resnet_spec.compiler.export import max_error

    if not runner.comparable:
        return None
    with runner.context():
        runner.step()
        got = _arrays(runner.call(models.check_input.to(getattr(torch, runner.dtype))))
    want = _arrays(models.reference)
    worst, scale = max_error(want, got, "the output", models.check_batch)
    result: dict[str, Any] = {"max_abs_error": worst, "relative_error": worst / max(scale, 1e-12),
                              "reference_max_abs": scale, "top1_agree": None,
                              "of": models.check_batch}
    if list(want) == ["output"] and want["output"].ndim == 2:  # logits: classes agree?
        result["top1_agree"] = int((got["output"].argmax(1) == want["output"].argmax(1)).sum())
    return result


def _arrays(output: Any) -> dict[str, Any]:
    """A model's outputs as float32 arrays by name: a tensor, or a backbone's dict."""
    tensors = output if isinstance(output, dict) else {"output": output}
    return {name: t.detach().float().cpu().numpy() for name, t in tensors.items()}


def describe(err: BaseException) -> str:
    """An error as one line for the table: out of memory said plainly."""
    name = type(err).__name__
    if name == "OutOfMemoryError" or "out of memory" in str(err).lower():
        return f"out of memory ({name})"
    first = next((line for line in str(err).splitlines() if line.strip()), "")
    return f"{name}: {first}"[:300]


def _release() -> None:
    """Free what a finished or failed variant held on the GPU (compiled graphs included)."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def progress(message: str) -> None:
    print(f"[{time.monotonic() - START:6.1f} s] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
