"""What every target is handed: the program, the module it came from, the folder, the options."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from resnet_spec.deploy.image_size import ImageSizes
from resnet_spec.deploy.options import DEFAULT_BATCH, DEFAULT_MIN_AGREEMENT, BatchRange
from resnet_spec.ir import Graph
from resnet_spec.pipeline.outdir import write_file


@dataclass(frozen=True)
class OnnxExport:
    """The program exported to ONNX once per build (fp32, before any quantization)."""

    data: bytes
    opset: int
    """The default-domain opset the exporter wrote."""


@dataclass(frozen=True)
class CheckedFile:
    """A file a target wrote and checked against the module."""

    path: Path
    check: dict[str, Any]
    """Its check as the manifest records it."""


@dataclass(frozen=True)
class Engine:
    """The TensorRT engine a build made: the serialized file, its tensors' names, its check."""

    path: Path
    io: dict[str, list[str]]
    """`inputs` and `outputs`: the engine's own tensor names, read back with TensorRT."""
    check: dict[str, Any]


@dataclass
class Made:
    """What the targets of one build made, for the later ones (each None until made): the
    triton target packages the file of the onnx, openvino or tensorrt target rather than make
    it again."""

    onnx: OnnxExport | None = None
    onnx_int8: bytes | None = None
    """The fp32 export quantized on the calibration samples (`--precision int8`)."""
    onnx_file: CheckedFile | None = None
    """`model.onnx` as the onnx target deployed and checked it."""
    openvino_xml: Path | None = None
    """`openvino/model.xml` (its `.bin` beside it) as the openvino target wrote it."""
    engine: Engine | None = None


@dataclass
class Job:
    """The inputs of the targets of one build, and what earlier targets left for later ones."""

    graph: Graph
    module: Any
    """The eval-mode torch module the program was exported from: the reference outputs."""
    program: Any
    """The `torch.export.ExportedProgram`, batch dynamic, exported once by the build."""
    folder: Path
    """Where the files go (the build's staging folder)."""
    batch: BatchRange = DEFAULT_BATCH
    precision: str = "fp32"
    triton_backend: str = "auto"
    aoti_device: str = "cpu"
    """What the aoti package is compiled for: `cpu` or `cuda`."""
    image_size: ImageSizes | None = None
    """`--image-size`: height and width dynamic (the program was exported so); None: fixed."""
    note: Callable[[str], None] = lambda line: None
    progress: Callable[[str], None] = lambda message: None
    """Told what the target does next (`converting`, `checking batch 3`): the user sees it."""
    calibration: Any = None
    """int8: the `resnet_spec.deploy.calibration.Calibration` samples (calibrate, held out)."""
    min_agreement: float = DEFAULT_MIN_AGREEMENT
    """int8: the held-out top-1 agreement below which the file is refused."""
    preprocessing: dict[str, Any] | None = None
    """The spec's `preprocess` as recorded with the files (ONNX metadata, Triton folder)."""
    made: Made = field(default_factory=Made)
    """What a target made that a later one reuses (triton packages the others' files)."""
    references: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    """The module's outputs by output name for each fixed input batch it was run on (`check.py`
    keys them), shared by every target's check: one forward pass per batch."""

    @cached_property
    def converter_program(self) -> Any:
        """`program` with each conv -> batch norm folded into one conv (`passes.program`): what
        the converters (ONNX, OpenVINO, TensorRT) take. It computes the same outputs to float32
        rounding with about half the nodes and weights, and each converter starts with a
        retrace of its own whose time follows that size (ResNet-50: ONNX about 1.1 s faster,
        OpenVINO 1 s). The build's `model.pt2` keeps the program as exported."""
        from resnet_spec.compiler.passes.program import fold_norms

        return fold_norms(self.program)

    @property
    def name(self) -> str:
        return self.graph.name

    @property
    def input_dims(self) -> tuple[int, ...]:
        """The input's shape without the batch: (C, H, W)."""
        return tuple(self.graph.input_shape)

    def check_sizes(self) -> list[tuple[int, int] | None]:
        """The image sizes a target is checked at besides the spec's (None): with
        `--image-size`, one more valid size, its height unlike the spec's."""
        if self.image_size is None:
            return [None]
        other = self.image_size.other_size(*self.input_dims[1:])
        return [None] if other == tuple(self.input_dims[1:]) else [None, other]

    def write(self, relative: str, data: bytes | memoryview) -> Path:
        """Write a file at `relative` below the folder (its folders created)."""
        path = self.folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(path, data)
        return path
