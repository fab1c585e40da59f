"""The deployment targets, one registration each: everything the front end knows of a target
without torch (its name and place in a build, the precisions it takes, whether `--image-size`
applies, the packages the manifest records, what it costs in memory), and which
`resnet_spec.compiler.targets` module builds it. `deploy.TARGETS`, `deploy.PRECISIONS`,
`deploy.DYNAMIC_SIZE_TARGETS`, the manifest's runtime versions and the memory estimate's terms
are views of `REGISTERED`; adding a target is one registration here plus its module there.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1 << 20


@dataclass(frozen=True)
class Target:
    """One deployment target as the front end knows it."""

    name: str
    """`--to NAME`, the build step's name and the module `compiler/targets/NAME.py`."""
    precisions: tuple[str, ...]
    """The `--precision` values its files take."""
    stays_fp32: bool = False
    """Its files stay fp32 beside a precision it does not take (an fp32 ONNX file beside a bf16
    OpenVINO model), rather than refusing it."""
    dynamic_size: bool = False
    """`--image-size` applies: its files take heights and widths in a range."""
    runtimes: tuple[str, ...] = ()
    """The packages whose versions the manifest records when the target is built (torch
    itself always is)."""
    runtime_bytes: int = 0
    """What importing its runtime adds to a process (`build_memory`)."""
    weight_copies: float = 0.0
    """Further copies of the weights it holds while it is converted and checked
    (`build_memory`)."""

    @property
    def module(self) -> str:
        """The back-end module with its `missing()` and `build(job)`."""
        return f"resnet_spec.compiler.targets.{self.name}"


REGISTERED: tuple[Target, ...] = (
    Target("pt2", ("fp32",), stays_fp32=True, dynamic_size=True),
    Target("onnx", ("fp32", "int8"), stays_fp32=True, dynamic_size=True,
           runtimes=("onnx", "onnxscript", "onnxruntime"), runtime_bytes=80 * MIB,
           weight_copies=5.5),
    Target("openvino", ("fp32", "bf16", "fp16", "int8"), dynamic_size=True,
           runtimes=("openvino", "nncf"), runtime_bytes=60 * MIB, weight_copies=2.0),
    # inductor is torch's own (torch is always recorded); its frozen constants and the loaded
    # package are two more copies, its C++ compiler a child process (measured on
    # wide_resnet50_2: estimate 2.33 GiB, peak 2.18 GiB, docs/benchmarks.md)
    Target("aoti", ("fp32",), dynamic_size=True, runtime_bytes=400 * MIB, weight_copies=2.0),
    # CUDA's context, not measured here
    Target("tensorrt", ("fp32", "fp16"), runtimes=("torch-tensorrt", "tensorrt"),
           runtime_bytes=1 << 30, weight_copies=2.0),
    # whatever precision the backend it packages takes
    Target("triton", ("fp32", "bf16", "fp16", "int8"), runtimes=("tritonclient",)),
)
"""Every target, in the order a build writes them (triton packages what the others made)."""

BY_NAME: dict[str, Target] = {t.name: t for t in REGISTERED}


def registered(name: str) -> Target:
    """The registration of `name` (a KeyError for an unknown one: names are checked where the
    user gives them, `deploy.in_order`)."""
    return BY_NAME[name]
