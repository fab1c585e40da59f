"""Whether `build`, `export` or `bench` fits in memory, judged from the IR before torch
allocates anything.

A process of these commands holds, at its peak (docs/build.md, "Memory", has the measurements
behind each term and `benchmarks/bench_memory.py` re-measures them):

- torch and the export machinery, about 900 MiB, plus each deployment runtime it loads;
- the weights, several times: the module and the exported program's copy (2), plus one more
  for a `--weights` file, and those of the target being converted (the converter's copies, the
  file's bytes, the runtime's session): measured 2.0 to 2.2 copies for a build, 7.6 for `--to
  onnx`, 4.2 for `--to openvino`;
- the activations of the largest batch it runs forward (the check batches of `.pt2` and of
  each target, 3 by default, or the batch range's; `bench`'s `--batch`): in eval mode without
  gradients about four of the largest activation are alive at once (measured 3.5 to 4.0,
  eager and onnxruntime alike), and the input batch.

The estimate takes microseconds and is within 1.5x of the measured peak (tested on small
specs, `tests/test_memory_estimate.py`; benchmarked on large ones). A command whose estimate
exceeds the memory it may use (the smallest of MemAvailable, the cgroup's limit less its usage,
and the room left under RLIMIT_AS and RLIMIT_DATA) is refused at the spec entry responsible:
`input` when activations dominate (or `--batch`, when the batch does), else the stage holding
the most weights.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from resnet_spec import number_format as units
from resnet_spec.deploy.targets import REGISTERED
from resnet_spec.errors import LimitError, Loc
from resnet_spec.ir import Graph
from resnet_spec.ir.cost import GraphCost
from resnet_spec.spec.schema import Spec

FLOAT_BYTES = 4
"""A build's tensors are float32."""
RUNTIME_BYTES = 900 << 20
"""torch, the export machinery and the Python around them (measured 865 MiB for a tiny build)."""
TARGET_RUNTIME_BYTES = {t.name: t.runtime_bytes for t in REGISTERED}
"""What importing each target's runtime adds (its registration's `runtime_bytes`; tensorrt:
CUDA's context, not measured here)."""
PROGRAM_COPIES = 2.0
"""The module's weights and the exported program's (serialized, then loaded back)."""
TARGET_COPIES = {t.name: t.weight_copies for t in REGISTERED}
"""Further copies of the weights a target holds while it is converted and checked, its
registration's `weight_copies` (measured on wide_resnet50_2: onnx 7.6 copies in all, openvino
4.2, aoti 4.0; tensorrt not measured here). Targets are converted one after the other, so the
peak is the largest one's, plus KEPT_COPIES for each other (the files' bytes and what the
runtimes cache)."""
KEPT_COPIES = 0.5
LIVE_ACTIVATIONS = 4
"""Largest activations alive at once in an eval forward pass, per image of the batch."""
CHECK_BATCH = 3
"""The largest batch `.pt2` is checked at (`compiler.export.CHECK_BATCHES`)."""
BENCH_COPIES = 2.5
"""Weights held by a bench process: the module and a backend's own (folded, compiled, a
runtime's session)."""


@dataclass(frozen=True)
class Workload:
    """What one process of a command runs, as far as its memory goes."""

    verb: str
    """`building`, `exporting`, `benchmarking`: how messages name it."""
    batch: int
    """The largest batch it runs forward."""
    weight_copies: float
    runtime: int = RUNTIME_BYTES
    batch_option: bool = False
    """Whether `--batch` chose `batch` (a refusal then names it)."""


def pipeline_workload(targets: Iterable[str] = (), check_batches: Iterable[int] = (),
                      *, full: bool = True, weights_file: bool = False) -> Workload:
    """`build` (`full`) or `export` with `targets`, whose checks run `check_batches`."""
    targets = tuple(targets)
    target_batches = tuple(check_batches) if targets else ()
    # the trace itself runs on fake tensors: only the checks' batches allocate
    batch = max((CHECK_BATCH if full or "pt2" in targets else 1, *target_batches))
    return Workload(
        verb="building" if full else "exporting",
        batch=batch,
        weight_copies=PROGRAM_COPIES + weights_file + _target_copies(targets),
        runtime=RUNTIME_BYTES + sum(TARGET_RUNTIME_BYTES[t] for t in targets),
        batch_option=bool(target_batches) and max(target_batches) > CHECK_BATCH,
    )


def _target_copies(targets: tuple[str, ...]) -> float:
    copies = sorted((TARGET_COPIES[t] for t in targets), reverse=True)
    return copies[0] + KEPT_COPIES * (len(copies) - 1) if copies else 0.0


def bench_workloads(batches: Iterable[int], backends: Iterable[str], *,
                    weights_file: bool = False) -> list[Workload]:
    """`bench`'s processes: the one preparing the files (an export to the file backends'
    targets, checked at batches 1 and 3), and one timing each backend at `batches`."""
    files = tuple(t for b, t in (("onnxruntime", "onnx"), ("openvino", "openvino"),
                                 ("aoti", "aoti")) if b in tuple(backends))
    prepare = pipeline_workload(files, (1, CHECK_BATCH), full=False,
                                weights_file=weights_file)
    timing = Workload(verb="benchmarking", batch=max(batches), weight_copies=BENCH_COPIES,
                      runtime=prepare.runtime, batch_option=max(batches) > CHECK_BATCH)
    return [prepare, timing]


BUILD = pipeline_workload()
"""A plain `build`."""


@dataclass(frozen=True)
class MemoryEstimate:
    """What a process will hold at its peak, in bytes, by cause."""

    weights: int
    inputs: int
    activations: int
    largest: str
    """The node whose output is the largest activation."""
    runtime: int = RUNTIME_BYTES
    workload: Workload = BUILD

    @property
    def total(self) -> int:
        return self.weights + self.inputs + self.activations + self.runtime


def estimate(graph: Graph, cost: GraphCost, workload: Workload = BUILD) -> MemoryEstimate:
    """The peak memory of running `workload` on `graph` (with its cost), from the IR alone."""
    state = sum(math.prod(shape) for shape in graph.state_shapes().values())
    largest = max(cost.nodes.values(), key=lambda n: n.activations)
    batch = workload.batch
    return MemoryEstimate(
        weights=int(workload.weight_copies * state * FLOAT_BYTES),
        inputs=batch * math.prod(graph.input_shape) * FLOAT_BYTES,
        activations=LIVE_ACTIVATIONS * batch * largest.activations * FLOAT_BYTES,
        largest=largest.name,
        runtime=workload.runtime,
        workload=workload,
    )


def check_fits(graph: Graph, cost: GraphCost, available: int | None = None,
               workload: Workload = BUILD) -> MemoryEstimate:
    """The estimate, or a LimitError at the spec entry responsible if it exceeds `available`
    (default: what this process may still use; no check where that cannot be told)."""
    need = estimate(graph, cost, workload)
    free = available_memory() if available is None else available
    if free is None or need.total <= free:
        return need
    asked = (f"{workload.verb} needs about {units.size(need.total)} of memory, "
             f"{units.size(free)} is available")
    if need.activations + need.inputs >= need.weights:
        per_image = need.activations // (LIVE_ACTIVATIONS * workload.batch)
        batch = f"at batch {workload.batch} " if workload.batch > 1 else ""
        hint = ("a smaller --batch (every batch asked for is run to check or time it), "
                if workload.batch_option else "")
        raise LimitError(
            f"{asked}: the {units.shape(graph.input_shape)} input makes activations of up to "
            f"{units.size(per_image)} an image (`{need.largest}`), and about "
            f"{LIVE_ACTIVATIONS} of them are alive at once {batch}".rstrip(),
            _input_loc(graph),
            hint + "a smaller `input` height and width (the exported program takes that size; "
            "its batch stays dynamic), or a machine with more memory")
    raise LimitError(
        f"{asked}: the weights take {units.size(need.weights / workload.weight_copies)} and "
        f"{workload.verb} holds them about {workload.weight_copies:g} times", _heaviest_loc(graph),
        "narrower or fewer blocks, or a machine with more memory")


def _input_loc(graph: Graph) -> Loc | None:
    return graph.node(graph.input).loc


def _heaviest_loc(graph: Graph) -> Loc | None:
    """Where the node with the most parameters was written (its stage entry)."""
    return max(graph.nodes(), key=lambda n: n.param_count()).loc


def available_memory() -> int | None:
    """Bytes this process could still allocate: the smallest of the kernel's MemAvailable,
    what the cgroup's limit leaves, and the room under RLIMIT_AS and RLIMIT_DATA; None where
    none can be read (not Linux, no limit)."""
    known = [m for m in (_meminfo_available(), _cgroup_room(), _rlimit_room())
             if m is not None]
    return min(known) if known else None


def _meminfo_available() -> int | None:
    return _proc_kib("/proc/meminfo", "MemAvailable:")


def _proc_kib(path: str, key: str) -> int | None:
    """A `key: N kB` line of a /proc file, in bytes."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> int | None:
    """The tightest limit minus usage among this process's cgroup and its parents (v2), or
    v1's; None without a limit."""
    rooms = [max(0, limit - usage) for limit, usage in _cgroup_limits()]
    return min(rooms) if rooms else None


def _cgroup_limits() -> list[tuple[int, int]]:
    """(limit, usage) of each cgroup level with a memory limit."""
    found = []
    for folder in _cgroup_folders():
        for limit_name, usage_name in (("memory.max", "memory.current"),
                                       ("memory.limit_in_bytes", "memory.usage_in_bytes")):
            try:
                limit = (folder / limit_name).read_text().strip()
                usage = int((folder / usage_name).read_text().strip())
            except (OSError, ValueError):
                continue
            if limit.isdigit() and int(limit) < 1 << 60:  # "max"; v1 writes a huge number
                found.append((int(limit), usage))
    return found


def _cgroup_folders() -> list[Path]:
    """This process's cgroup folders (v2 unified, v1 memory) and their parents up to the
    mount, or the mount's root where /proc/self/cgroup cannot be read."""
    roots = [Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/memory")]
    folders: list[Path] = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3 or not (parts[1] == "" or "memory" in parts[1].split(",")):
            continue
        root = roots[0] if parts[1] == "" else roots[1]
        here = root / parts[2].lstrip("/")
        while here != root and root in here.parents:
            folders.append(here)
            here = here.parent
    return [*folders, *roots]


def _rlimit_room() -> int | None:
    """What RLIMIT_AS and RLIMIT_DATA leave above this process's current address space and
    data segment; None without such a limit."""
    try:
        import resource
    except ImportError:  # not a Unix system
        return None
    rooms = []
    for limit_name, key in (("RLIMIT_AS", "VmSize:"), ("RLIMIT_DATA", "VmData:")):
        soft, _ = resource.getrlimit(getattr(resource, limit_name))
        if soft == resource.RLIM_INFINITY:
            continue
        used = _proc_kib("/proc/self/status", key) or 0
        rooms.append(max(0, soft - used))
    return min(rooms) if rooms else None


def check_bench_fits(spec: Spec, batches: Iterable[int], backends: Iterable[str], *,
                     weights_file: bool = False, available: int | None = None) -> None:
    """`bench`'s check, before any process starts: each of its processes must fit."""
    from resnet_spec.elaboration import elaborate
    from resnet_spec.ir.cost import analyze

    graph = elaborate(spec)
    cost = analyze(graph)
    for workload in bench_workloads(batches, backends, weights_file=weights_file):
        check_fits(graph, cost, available, workload)
