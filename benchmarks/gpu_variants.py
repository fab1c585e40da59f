"""What `gpu_check.py` runs: the models its variants share, and how each variant runs.

A variant is a name, a line that says what it runs, and a function that makes its runner on the
device: a callable from an input batch to the output, with the dtype of input it takes. A
variant whose package or torch feature is missing here raises `Unavailable`: its row says what
is missing, and the others go on. Every variant's model has the same weights (the spec built
from one seed), so each output can be compared with the exported program's at fp32.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: `gpu_check.py --wheels` installs them first
    import torch

ANCHOR_SHAPE = (3, 224, 224)
"""The input of torchvision's ImageNet models, at which the anchor is timed."""

ANCHOR = "torchvision-fp32"
REFERENCE = "export-fp32"


class Unavailable(Exception):
    """This machine lacks what a variant needs (a package, a torch feature, a CUDA GPU)."""


@dataclass
class Runner:
    """One variant, ready to run on the device."""

    call: Callable[[torch.Tensor], Any]
    dtype: str = "float32"
    """The dtype of the input batches it takes (a torch dtype's name)."""
    shape: tuple[int, ...] | None = None
    """The input's shape without the batch, where it is not the spec's (the anchor's)."""
    context: Callable[[], AbstractContextManager[Any]] = nullcontext
    """Entered around its calls (autocast)."""
    step: Callable[[], None] = lambda: None
    """Called before each call: with CUDA graphs, a new step (the last outputs may go)."""
    compiles: bool = False
    """Its first call at each new batch size compiles (minutes with max-autotune)."""
    comparable: bool = True
    """Its outputs are the spec's model's (false for an anchor of other weights or shape)."""


class Models:
    """What the variants share: the spec's graph, then, each made on first use, its eval module
    and exported program on the device, programs cast to other dtypes, the fp32 reference."""

    def __init__(self, spec: str, device: torch.device, anchor: str, batches: list[int],
                 check_batch: int) -> None:
        """Elaborates the spec at once: a bad one raises its SpecError here."""
        import resnet_spec

        self.graph = resnet_spec.elaborate(spec)
        self.device = device
        self.anchor = anchor
        self.batches = batches
        self.check_batch = check_batch
        self._cast: dict[str, Any] = {}

    @cached_property
    def module(self) -> torch.nn.Module:
        import resnet_spec

        return resnet_spec.build(self.graph, device=self.device).eval()

    @cached_property
    def program(self) -> Any:
        """The spec's `torch.export` program as the build makes it (batch dynamic, fp32)."""
        from resnet_spec.compiler.export import export_program

        return export_program(self.module, self.graph)

    def cast_program(self, dtype: str) -> Any:
        """The program exported from the module cast to `dtype` (weights and input)."""
        import torch

        from resnet_spec.compiler.export import export_program

        if dtype not in self._cast:
            module = copy.deepcopy(self.module).to(getattr(torch, dtype))
            self._cast[dtype] = export_program(module, self.graph)
        return self._cast[dtype]

    @cached_property
    def folder(self) -> Path:
        """Where compiled packages go while the check runs."""
        return Path(tempfile.mkdtemp(prefix="gpu_check_"))

    def close(self) -> None:
        """Remove the compiled packages."""
        if "folder" in self.__dict__:
            shutil.rmtree(self.folder, ignore_errors=True)

    @cached_property
    def check_input(self) -> torch.Tensor:
        """The fixed batch every variant's output is compared on."""
        import torch

        generator = torch.Generator().manual_seed(0)
        x = torch.randn((self.check_batch, *self.graph.input_shape), generator=generator)
        return x.to(self.device)

    @cached_property
    def reference(self) -> Any:
        """The exported program's output on `check_input` in full fp32 (no TF32)."""
        with exact_fp32():
            return self.program.module()(self.check_input)


@contextmanager
def exact_fp32() -> Iterator[None]:
    """fp32 convolutions and matmuls without TF32 (on by default for cuDNN convolutions)."""
    import torch

    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@dataclass(frozen=True)
class Variant:
    name: str
    what: str
    make: Callable[[Models], Runner]
    slow_setup: bool = False
    """Making the runner compiles (AOTI, TensorRT): it starts only with time left for that."""


def _torchvision(models: Models) -> Runner:
    import torchvision

    anchor = getattr(torchvision.models, models.anchor)().eval().to(models.device)
    same = tuple(models.graph.input_shape) == ANCHOR_SHAPE
    try:  # the spec's weights, where they fit (resnet50): then its outputs can be compared
        anchor.load_state_dict(models.module.state_dict())
    except RuntimeError:
        same = False
    return Runner(anchor, shape=ANCHOR_SHAPE, comparable=same)


def _exported(dtype: str, autocast: bool) -> Callable[[Models], Runner]:
    def make(models: Models) -> Runner:
        import torch

        module = models.program.module()
        if dtype == "float32":
            return Runner(module)
        if autocast:
            return Runner(module, context=lambda: torch.autocast(models.device.type,
                                                                 dtype=getattr(torch, dtype)))
        # a copy: the unlifted module's parameters are the program's own tensors
        return Runner(copy.deepcopy(module).to(getattr(torch, dtype)), dtype=dtype)

    return make


def _compiled(dtype: str) -> Callable[[Models], Runner]:
    def make(models: Models) -> Runner:
        import torch
        from torch._inductor import list_mode_options

        import resnet_spec

        module = resnet_spec.build(models.graph, for_inference=True, device=models.device)
        # freezing: weights become constants inductor can fold (inference only)
        options = {**list_mode_options("max-autotune"), "freezing": True}
        compiled = torch.compile(module.to(getattr(torch, dtype)), options=options,
                                 dynamic=False)
        step = (torch.compiler.cudagraph_mark_step_begin if models.device.type == "cuda"
                else lambda: None)
        return Runner(compiled, dtype=dtype, step=step, compiles=True)

    return make


def _aoti(dtype: str) -> Callable[[Models], Runner]:
    def make(models: Models) -> Runner:

        try:
            from torch._inductor import aoti_compile_and_package, aoti_load_package
        except ImportError as err:
            raise Unavailable("the AOTI package needs torch >= 2.6 "
                              f"(torch._inductor.aoti_compile_and_package): {err}") from err
        program = models.program if dtype == "float32" else models.cast_program(dtype)
        path = aoti_compile_and_package(program,
                                        package_path=str(models.folder / f"model.{dtype}.pt2"))
        return Runner(aoti_load_package(path), dtype=dtype)

    return make


def _tensorrt(models: Models) -> Runner:
    try:
        import torch_tensorrt
    except Exception as err:  # not installed, or installed without TensorRT's libraries
        first = str(err).splitlines()[0] if str(err) else ""
        raise Unavailable(f"torch_tensorrt does not import here ({type(err).__name__}: "
                          f"{first}): TensorRT is not run") from err
    if models.device.type != "cuda":
        raise Unavailable("TensorRT needs --device cuda")
    from resnet_spec.compiler.passes.program import fold_norms
    from resnet_spec.compiler.targets import tensorrt
    from resnet_spec.deploy.options import BatchRange

    largest = max(models.batches)
    engine = tensorrt.plan(tuple(models.graph.input_shape),
                           BatchRange(min(models.batches), largest, largest), "fp16")
    inputs, settings = tensorrt.compile_arguments(engine)
    # what `export --to tensorrt` compiles: the norm-folded program (already on the GPU here)
    return Runner(torch_tensorrt.dynamo.compile(fold_norms(models.program), arg_inputs=inputs,
                                                **settings))


_BF16, _FP16, _FP32 = "bfloat16", "float16", "float32"

VARIANTS: tuple[Variant, ...] = (
    # in the order they run, which is also their priority when the time budget runs out
    Variant(ANCHOR, "torchvision's model, eager, fp32: the anchor of every ratio",
            _torchvision),
    Variant(REFERENCE, "the exported program (torch.export, as `build` writes it), fp32",
            _exported(_FP32, autocast=False)),
    Variant("compile-bf16", "torch.compile max-autotune (CUDA graphs on CUDA), freezing, "
            "static batch, the inference module cast to bf16", _compiled(_BF16)),
    Variant("export-bf16-autocast", "the exported program under torch.autocast(bf16)",
            _exported(_BF16, autocast=True)),
    Variant("export-bf16-cast", "the exported program, weights and input cast to bf16",
            _exported(_BF16, autocast=False)),
    Variant("export-fp16-autocast", "the exported program under torch.autocast(fp16)",
            _exported(_FP16, autocast=True)),
    Variant("export-fp16-cast", "the exported program, weights and input cast to fp16",
            _exported(_FP16, autocast=False)),
    Variant("tensorrt-fp16", "the project's TensorRT target (compiler/targets/tensorrt.py), "
            "fp16 autocast engine, batch profile over the timed batches", _tensorrt,
            slow_setup=True),
    Variant("aoti-bf16", "AOTInductor package (aoti_compile_and_package) of the program "
            "exported at bf16", _aoti(_BF16), slow_setup=True),
    Variant("aoti-fp32", "AOTInductor package of the exported program, fp32", _aoti(_FP32),
            slow_setup=True),
    Variant("compile-fp32", "torch.compile max-autotune (CUDA graphs on CUDA), freezing, "
            "static batch, the inference module at fp32", _compiled(_FP32)),
)

BY_NAME = {variant.name: variant for variant in VARIANTS}
