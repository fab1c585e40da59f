"""`tensorrt`: a TensorRT engine built by torch-tensorrt's dynamo path on a CUDA GPU.

The exported program is moved to the GPU (`move_to_device_pass`: its CPU weights cannot feed a
GPU engine) and compiled, never traced again. The batch range is TensorRT's optimization
profile (`--batch MIN:OPT:MAX`). torch-tensorrt 2.14 with TensorRT 11 builds strongly typed
engines and takes no `enabled_precisions`: fp16 is asked for with its rule-based autocast
(`enable_autocast`, `autocast_low_precision_type`), which keeps the input and output fp32.

Writes `model.trt.ep` (`torch_tensorrt.save`: an ExportedProgram that runs the engine, load with
`torch_tensorrt.load`) and `model.engine`, the serialized engine alone (for Triton's
`tensorrt_plan`, trtexec or TensorRT's own runtime).

Everything up to the engine build (`plan`: input shapes, dtype, settings, file names) is plain
data that needs neither CUDA nor torch-tensorrt, so it is tested on every machine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from resnet_spec.compiler.export import ExportError
from resnet_spec.compiler.targets.check import check, output_names
from resnet_spec.compiler.targets.job import Engine, Job
from resnet_spec.deploy.options import ENGINE_FILE, INPUT_NAME, BatchRange, OptionError

EP_FILE = "model.trt.ep"
GET = "pip install 'resnet-spec[tensorrt]' on a machine with an NVIDIA GPU and CUDA"


@dataclass(frozen=True)
class EnginePlan:
    """What the engine is built from: one input profile, the compile settings, the files."""

    input_name: str
    min_shape: tuple[int, ...]
    opt_shape: tuple[int, ...]
    max_shape: tuple[int, ...]
    dtype: str
    settings: dict[str, Any] = field(default_factory=dict)
    """torch_tensorrt.dynamo.compile keyword arguments, dtypes as names."""
    files: tuple[str, ...] = (EP_FILE, ENGINE_FILE)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def plan(input_dims: tuple[int, ...], batch: BatchRange, precision: str) -> EnginePlan:
    """The engine of a model whose input is (N, *input_dims), N in `batch`, at `precision`."""
    if precision not in ("fp32", "fp16"):
        raise OptionError(f"--to tensorrt takes --precision fp32 or fp16, not {precision}")
    settings: dict[str, Any] = {
        "min_block_size": 1,
        "truncate_double": True,
        "optimization_level": 3,
    }
    if precision == "fp16":
        settings |= {"enable_autocast": True, "autocast_low_precision_type": "float16"}
    return EnginePlan(INPUT_NAME, (batch.min, *input_dims), (batch.opt, *input_dims),
                      (batch.max, *input_dims), "float32", settings)


def missing() -> str | None:
    """What this machine lacks for an engine: torch-tensorrt (with TensorRT), or a CUDA GPU."""
    try:
        import torch_tensorrt  # noqa: F401
    except ModuleNotFoundError:
        return f"--to tensorrt needs torch-tensorrt, which is not installed ({GET})"
    except Exception as err:  # e.g. installed without NVIDIA's libnvinfer
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        return f"--to tensorrt needs torch-tensorrt, which does not load here: {first} ({GET})"
    import torch

    if not torch.cuda.is_available():
        return "--to tensorrt needs a CUDA GPU, and torch sees none on this machine"
    return None


def compile_arguments(engine: EnginePlan) -> tuple[list[Any], dict[str, Any]]:
    """`engine` as torch_tensorrt's `arg_inputs` and keyword settings (needs the package)."""
    import torch
    import torch_tensorrt

    inputs = [torch_tensorrt.Input(min_shape=engine.min_shape, opt_shape=engine.opt_shape,
                                   max_shape=engine.max_shape, dtype=getattr(torch, engine.dtype),
                                   name=engine.input_name)]
    settings = dict(engine.settings)
    if "autocast_low_precision_type" in settings:
        settings["autocast_low_precision_type"] = getattr(torch,
                                                          settings["autocast_low_precision_type"])
    return inputs, settings


def build(job: Job) -> dict[str, Any]:
    """Build the engine on the GPU, save both files, load the program back and compare."""
    import torch_tensorrt
    from torch.export.passes import move_to_device_pass

    engine = plan(job.input_dims, job.batch, job.precision)
    inputs, settings = compile_arguments(engine)
    program = move_to_device_pass(job.converter_program, "cuda:0")
    job.progress("building the TensorRT engine")
    compiled = torch_tensorrt.dynamo.compile(program, arg_inputs=inputs, **settings)
    ep_path = job.folder / EP_FILE
    # torch_tensorrt.save writes through torch's own file writer (it takes a path only)
    torch_tensorrt.save(compiled, str(ep_path), output_format="exported_program",
                        arg_inputs=inputs)
    job.progress(f"serializing {ENGINE_FILE}")
    serialized = torch_tensorrt.dynamo.convert_exported_program_to_serialized_trt_engine(
        program, arg_inputs=inputs, **settings)
    engine_path = job.write(ENGINE_FILE, bytes(serialized))
    io = engine_io(bytes(serialized))
    result = check(job, EP_FILE, _runner(ep_path, job), _versions()).as_json()
    job.made.engine = Engine(engine_path, io, result)
    return {"files": list(engine.files), "precision": job.precision, "plan": engine.as_json(),
            "engine_io": io, "check": result}


def engine_io(serialized: bytes) -> dict[str, list[str]]:
    """The engine's input and output tensor names, read back with TensorRT's runtime."""
    import tensorrt as trt

    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    engine = runtime.deserialize_cuda_engine(serialized)
    if engine is None:
        raise ExportError(f"{ENGINE_FILE}: TensorRT cannot deserialize the engine it built")
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    is_input = [engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names]
    return {"inputs": [n for n, i in zip(names, is_input, strict=True) if i],
            "outputs": [n for n, i in zip(names, is_input, strict=True) if not i]}


def _runner(ep_path: Any, job: Job) -> Any:
    import torch
    import torch_tensorrt

    try:
        loaded = torch_tensorrt.load(str(ep_path)).module()
    except Exception as err:  # any failure to load means the file is unusable
        raise ExportError(f"{EP_FILE}: torch-tensorrt cannot load it: {err}") from err
    names = output_names(job.graph)

    def run(x: np.ndarray) -> dict[str, np.ndarray]:
        with torch.no_grad():
            out = loaded(torch.from_numpy(x).cuda())
        out = out if isinstance(out, dict) else {names[0]: out}
        return {name: out[name].float().cpu().numpy() for name in names}

    return run


def _versions() -> str:
    import tensorrt
    import torch_tensorrt

    return f"torch-tensorrt {torch_tensorrt.__version__}, tensorrt {tensorrt.__version__}"
