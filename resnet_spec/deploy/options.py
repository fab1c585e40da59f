"""The deployment options as the front end knows them: the targets' names and precisions (views
of their registrations, `resnet_spec.deploy.targets`), the batch range and the `trtexec`
hand-off. No torch here: the CLI checks `--to`, `--precision` and `--batch`, and says what a
missing target needs, before anything heavy is imported. The targets themselves are
`resnet_spec.compiler.targets`.
"""

from __future__ import annotations

from dataclasses import dataclass

from resnet_spec.deploy.targets import REGISTERED

TARGETS = tuple(t.name for t in REGISTERED)
"""Every target, in the order a build writes them (triton packages what the others made)."""

PRECISIONS: dict[str, tuple[str, ...]] = {t.name: t.precisions for t in REGISTERED}
STAY_FP32 = tuple(t.name for t in REGISTERED if t.stays_fp32)
"""Targets whose files stay fp32 beside a precision they do not take (an fp32 ONNX file beside
a bf16 OpenVINO model), rather than refusing it."""
TRITON_PRECISIONS = {"onnxruntime": ("fp32", "int8"), "openvino": ("fp32", "bf16", "int8"),
                     "tensorrt": PRECISIONS["tensorrt"]}
"""What each Triton backend serves: Triton's OpenVINO backend has one precision key, HINT_BF16
(`resnet_spec.compiler.targets.triton.OPENVINO_SOURCE`), so no fp16."""
RANDOM_CALIBRATION = "random"
"""`--calibration random`: random images, for speed tests only (the accuracy is not judged)."""
DEFAULT_MIN_AGREEMENT = 0.95
"""`--min-agreement`'s default: the share of held-out samples whose int8 top-1 class must equal
the fp32 program's. A sound int8 ResNet can be expected to change the class of a few percent
of ImageNet images (among those the fp32 model is unsure of) while losing under a point of
accuracy; a broken quantization disagrees on far more. docs/deploy.md#int8 says more."""
TRITON_BACKENDS = ("auto", "onnxruntime", "openvino", "tensorrt")
AOTI_DEVICES = ("cpu", "cuda")
"""What `--to aoti` compiles for (`--aoti-device`)."""
DYNAMIC_SIZE_TARGETS = tuple(t.name for t in REGISTERED if t.dynamic_size)
"""The targets `--image-size` (height and width dynamic) applies to."""

INPUT_NAME = "images"
"""The input's name in every deployed format (ONNX, OpenVINO, TensorRT, Triton)."""
ONNX_FILE = "model.onnx"
ENGINE_FILE = "model.engine"


class OptionError(ValueError):
    """Deployment options that do not fit together or the targets asked for (a usage error)."""


class TargetUnavailable(Exception):
    """A target needs something this machine lacks (a package, a GPU); the message says what
    and how to get it."""


MAX_BATCH = 1 << 16
"""The largest batch `--batch` takes: ONNX Runtime and TensorRT index with 32-bit numbers,
and the deployment checks run the batches they are given."""


@dataclass(frozen=True)
class BatchRange:
    """The batch sizes a deployed model serves: TensorRT's min/opt/max profile, Triton's
    `max_batch_size` and preferred batches. ONNX and OpenVINO files take any batch."""

    min: int = 1
    opt: int = 8
    max: int = 32

    def __post_init__(self) -> None:
        if not 1 <= self.min <= self.opt <= self.max:
            raise OptionError(f"--batch {self}: need 1 <= MIN <= OPT <= MAX")
        if self.max > MAX_BATCH:
            raise OptionError(f"--batch {self}: at most {MAX_BATCH} (a batch is checked "
                              "by running it; the memory check judges what fits below that)")

    def __str__(self) -> str:
        return f"{self.min}:{self.opt}:{self.max}"

    @classmethod
    def parse(cls, text: str) -> BatchRange:
        """`MIN:OPT:MAX` (`1:8:32`), or one number for a fixed batch."""
        parts = text.split(":")
        if len(parts) not in (1, 3) or not all(_is_count(p) for p in parts):
            raise OptionError(f"--batch {text!r}: expected MIN:OPT:MAX such as 1:8:32, "
                             "or one batch size")
        # a number too long to be in range is not converted (Python refuses 4,300 digits)
        numbers = [int(p) if len(p.strip()) <= len(str(MAX_BATCH)) else MAX_BATCH + 1
                   for p in parts]
        if max(numbers) > MAX_BATCH:
            raise OptionError(f"--batch {text!r}: at most {MAX_BATCH} (a batch is checked by "
                              "running it; the memory check judges what fits below that)")
        return cls(*(numbers * 3 if len(numbers) == 1 else numbers))

    def check_batches(self) -> tuple[int, ...]:
        """The batch sizes a target is compared at: the smallest, and 3 (or the nearest size
        in range that differs); one when the range holds one size."""
        second = min(max(3, self.min), self.max)
        if second == self.min:
            second = self.max
        return (self.min,) if second == self.min else (self.min, second)

    def as_json(self) -> dict[str, int]:
        return {"min": self.min, "opt": self.opt, "max": self.max}


def _is_count(text: str) -> bool:
    """ASCII digits only: `²` is a digit to Python, not a batch size."""
    text = text.strip()
    return text.isascii() and text.isdigit()


DEFAULT_BATCH = BatchRange()


def in_order(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """`names` without repeats, in build order; OptionError naming an unknown one."""
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        raise OptionError(f"unknown target {unknown[0]!r}; the targets are {', '.join(TARGETS)}")
    return tuple(n for n in TARGETS if n in names)


def check_precision(names: tuple[str, ...], precision: str) -> None:
    """OptionError unless `precision` means something for `names`: every target with a
    precision setting must take it, and one at least must when it is not fp32. (pt2 files, and
    onnx files at any precision but int8, are fp32 beside reduced-precision targets.)"""
    for name in names:
        if precision not in PRECISIONS[name] and name not in STAY_FP32:
            raise OptionError(f"--to {name} takes --precision {', '.join(PRECISIONS[name])}; "
                             f"not {precision}")
    if precision != "fp32" and not any(precision in PRECISIONS[n] for n in names):
        takers = [n for n in TARGETS if precision in PRECISIONS[n]]
        raise OptionError(f"--precision {precision} applies to {', '.join(takers)}; "
                         f"{', '.join(names)} files are fp32")


def check_triton_precision(backend: str, precision: str) -> None:
    """OptionError unless the Triton backend `backend` (not `auto`) runs `precision`."""
    takes = TRITON_PRECISIONS.get(backend)
    if takes is not None and precision not in takes:
        raise OptionError(f"--triton-backend {backend} takes --precision {', '.join(takes)}; "
                         f"not {precision}")


def trtexec_command(input_dims: tuple[int, ...], batch: BatchRange, precision: str = "fp32",
                    onnx: str = ONNX_FILE, engine: str = ENGINE_FILE,
                    sizes: tuple[int, int] | None = None) -> str:
    """The shell command that builds the TensorRT engine of the `onnx` target on a GPU machine;
    with `sizes` (`--image-size`'s MIN, MAX) the profile's height and width run from MIN×MIN
    to MAX×MAX, optimized for the spec's.

    TensorRT 11 is strongly typed (no `--fp16` flag): an fp16 engine is built from an fp16
    ONNX graph, which NVIDIA's ModelOpt AutoCast makes (inputs and outputs kept fp32).
    """
    channels, *spec_size = input_dims
    low, high = (sizes, sizes) if sizes is None else ((sizes[0],) * 2, (sizes[1],) * 2)
    dims = {kind: "x".join(str(d) for d in (channels, *(size or spec_size)))
            for kind, size in (("min", low), ("opt", None), ("max", high))}
    shapes = " ".join(f"--{kind}Shapes={INPUT_NAME}:{size}x{dims[kind]}"
                      for kind, size in (("min", batch.min), ("opt", batch.opt),
                                         ("max", batch.max)))
    if precision == "fp16":
        half = onnx.removesuffix(".onnx") + ".fp16.onnx"
        return (f"python -m modelopt.onnx.autocast --onnx_path {onnx} --output_path {half} "
                f"--low_precision_type fp16 --keep_io_types && "
                f"trtexec --onnx={half} {shapes} --saveEngine={engine}")
    return f"trtexec --onnx={onnx} {shapes} --saveEngine={engine}"
