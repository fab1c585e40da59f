"""Whether a build fits in memory, judged from the IR before torch allocates anything.

`build` holds, at its peak (docs/build.md, "Memory", has the measurements behind each term):

- the weights three times: the module, their serialized bytes (safetensors, `.pt2`), and the
  exported program loaded back to be checked against the module;
- the example inputs: a batch of 2 to trace with and a batch of 1 to check with;
- a forward pass at batch 1, in eval mode without gradients (the module's, then the loaded
  program's), which keeps at most about three activations alive at once: a block's input for
  the shortcut, and the output being computed from the one before. So three times the largest
  activation that the cost model counts;
- torch itself and the export machinery, about a gigabyte.

This is an estimate in microseconds from figures the cost model already has; it errs large. A
build whose estimate exceeds the memory available (MemAvailable, and the cgroup's limit) is
refused at the spec entry responsible: `input` when activations dominate (a 16384x16384 input
asks for tens of GB), else the stage holding the most weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from resnet_spec import units
from resnet_spec.cost import GraphCost
from resnet_spec.errors import LimitError, Loc
from resnet_spec.ir import Graph

FLOAT_BYTES = 4
"""A build's tensors are float32."""
WEIGHT_COPIES = 3
EXAMPLE_BATCHES = 2 + 1
LIVE_ACTIVATIONS = 3
RUNTIME_BYTES = 1 << 30


@dataclass(frozen=True)
class MemoryEstimate:
    """What a build will hold at its peak, in bytes, by cause."""

    weights: int
    inputs: int
    activations: int
    largest: str
    """The node whose output is the largest activation."""
    runtime: int = RUNTIME_BYTES

    @property
    def total(self) -> int:
        return self.weights + self.inputs + self.activations + self.runtime


def estimate(graph: Graph, cost: GraphCost) -> MemoryEstimate:
    """The peak memory of building `graph` (with its cost), from the IR's figures alone."""
    state = sum(math.prod(shape) for shape in graph.state_shapes().values())
    largest = max(cost.nodes.values(), key=lambda n: n.activations)
    return MemoryEstimate(
        weights=WEIGHT_COPIES * state * FLOAT_BYTES,
        inputs=EXAMPLE_BATCHES * math.prod(graph.input_shape) * FLOAT_BYTES,
        activations=LIVE_ACTIVATIONS * largest.activations * FLOAT_BYTES,
        largest=largest.name,
    )


def check_fits(graph: Graph, cost: GraphCost, available: int | None = None) -> MemoryEstimate:
    """The estimate, or a LimitError at the spec entry responsible if it exceeds `available`
    (default: what this machine has free now; no check where that cannot be told)."""
    need = estimate(graph, cost)
    free = available_memory() if available is None else available
    if free is None or need.total <= free:
        return need
    shape = units.shape(graph.input_shape)
    if need.activations + need.inputs >= need.weights:
        raise LimitError(
            f"building needs about {units.size(need.total)} of memory, {units.size(free)} is "
            f"available: the {shape} example input makes activations of up to "
            f"{units.size(need.activations // LIVE_ACTIVATIONS)} (`{need.largest}`), and the "
            "export holds about three at once",
            _input_loc(graph),
            "a smaller `input` height and width (the exported program takes that size; its "
            "batch stays dynamic), or a machine with more memory")
    raise LimitError(
        f"building needs about {units.size(need.total)} of memory, {units.size(free)} is "
        f"available: the weights take {units.size(need.weights // WEIGHT_COPIES)} and the "
        "export holds them three times", _heaviest_loc(graph),
        "narrower or fewer blocks, or a machine with more memory")


def _input_loc(graph: Graph) -> Loc | None:
    return graph.node(graph.input).loc


def _heaviest_loc(graph: Graph) -> Loc | None:
    """Where the node with the most parameters was written (its stage entry)."""
    return max(graph.nodes(), key=lambda n: n.param_count()).loc


def available_memory() -> int | None:
    """Bytes this process could still allocate: the smaller of the kernel's MemAvailable and
    what the cgroup's limit leaves; None where neither can be read (not Linux)."""
    known = [m for m in (_meminfo_available(), _cgroup_room()) if m is not None]
    return min(known) if known else None


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> int | None:
    """The cgroup v2 limit minus usage, or v1's; None without a limit."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
         "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            limit = Path(limit_file).read_text().strip()
            usage = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 1 << 60:  # v1 writes a huge number for "none"
            return max(0, int(limit) - usage)
    return None
