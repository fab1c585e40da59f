"""`--calibration`: the samples an int8 build calibrates on and is judged on, without torch.

A folder of images (jpg, png) is decoded with Pillow and brought to the model's input by the
spec's `preprocess` (shorter side resized, center crop, pixels scaled to 0..1, mean and std);
a `.npy` or `.npz` holds such samples already, N×C×H×W float arrays. `random` makes random
images, for speed tests only. Every fifth sample is held out: the int8 files are calibrated on
the rest and compared with the fp32 program on those (`resnet_spec.compiler.targets.quantize`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from resnet_spec.deploy.options import RANDOM_CALIBRATION
from resnet_spec.errors import SpecError
from resnet_spec.spec.schema import Spec

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
ARRAY_SUFFIXES = (".npy", ".npz")
MAX_SAMPLES = 1000
"""Samples read at most (the first, in file-name order): calibration needs hundreds, and a
thousand ImageNet-sized samples already take 600 MB."""
MIN_SAMPLES = 2
"""One to calibrate on, one to judge with."""
HOLD_OUT_EVERY = 5
"""Every fifth sample (the 5th, 10th, ...; at least one) judges the int8 files, unused to
calibrate."""
RANDOM_SAMPLES = 40
"""Samples `--calibration random` makes."""
RANDOM_WARNING = ("--calibration random: the int8 files are calibrated on random images, for "
                  "speed tests only; their accuracy on real data is unknown and not judged")


class CalibrationError(SpecError):
    """The calibration data cannot be read or does not fit the model's input (exit 1)."""


@dataclass(frozen=True)
class Calibration:
    """The samples, split into those calibrated on and those held out to judge the result."""

    source: str
    """What `--calibration` named: a path, or `random`."""
    kind: str
    """`images`, `arrays` or `random`."""
    samples: np.ndarray
    """float32, N×C×H×W, as the model takes them."""

    @property
    def judged(self) -> bool:
        """Whether the accuracy measured on the held-out samples may fail the build."""
        return self.kind != "random"

    @cached_property
    def held_out_mask(self) -> np.ndarray:
        mask = np.zeros(len(self.samples), dtype=bool)
        mask[HOLD_OUT_EVERY - 1::HOLD_OUT_EVERY] = True
        if not mask.any():
            mask[-1] = True
        return mask

    @cached_property  # copies: made once (1,000 ImageNet-sized samples are 600 MB)
    def calibrate(self) -> np.ndarray:
        return self.samples[~self.held_out_mask]

    @cached_property
    def held_out(self) -> np.ndarray:
        return self.samples[self.held_out_mask]

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "source": self.source, "kind": self.kind, "samples": len(self.samples),
            "calibrated_on": len(self.calibrate), "held_out": len(self.held_out),
        }
        if not self.judged:
            entry["warning"] = RANDOM_WARNING
        return entry


def preprocessing(spec: Spec) -> dict[str, Any] | None:
    """The spec's `preprocess` as recorded with deployed files (manifest, ONNX metadata,
    Triton folder): what to do to an RGB image before the model; None when the spec says
    none. The crop is [height, width], the input's when unset."""
    prep = spec.preprocess
    if prep is None:
        return None
    crop = prep.crop_size or (spec.input.height, spec.input.width)
    return {"resize_shorter_side": prep.resize, "center_crop": list(crop),
            "scale": "pixels / 255",
            "mean": prep.per_channel("mean", spec.input.channels),
            "std": prep.per_channel("std", spec.input.channels),
            "layout": "NCHW", "channels": spec.input.channels}


def crop_mismatch(spec: Spec) -> str | None:
    """A note when the spec's `preprocess.crop` is not its input's size (a spec that changed
    the input of a parent with ImageNet's preprocessing), else None."""
    crop = spec.preprocess.crop_size if spec.preprocess is not None else None
    if crop is None or crop == (spec.input.height, spec.input.width):
        return None
    return (f"preprocess.crop {crop[0]}x{crop[1]} is not the input's "
            f"{spec.input.height}x{spec.input.width}: the recorded preprocessing does not fit "
            "this model; set preprocess in the spec")


def load_calibration(source: str, spec: Spec) -> Calibration:
    """The samples `source` names (a folder of images, a .npy/.npz file, or `random`) as the
    model `spec` takes them; CalibrationError naming the option if they cannot be."""
    shape = (spec.input.channels, spec.input.height, spec.input.width)
    if source == RANDOM_CALIBRATION:
        rng = np.random.default_rng(0)
        return Calibration(source, "random",
                           rng.standard_normal((RANDOM_SAMPLES, *shape), dtype=np.float32))
    path = Path(source)
    if path.is_dir():
        samples = _images(path, spec, shape)
        kind = "images"
    elif path.suffix.lower() in ARRAY_SUFFIXES and path.is_file():
        samples = _arrays(path, shape)
        kind = "arrays"
    else:
        what = "no such file or folder" if not path.exists() else "not a folder or .npy/.npz"
        raise _error(source, what, "a folder of jpg/png images, a .npy/.npz of N×C×H×W "
                     "float arrays, or random (speed tests only)")
    if len(samples) < MIN_SAMPLES:
        raise _error(source, f"{len(samples)} sample(s); at least {MIN_SAMPLES} are needed",
                     "some to calibrate on and every fifth held out to judge the result")
    if not np.isfinite(samples).all():
        raise _error(source, "holds NaN or inf values", "preprocessed images are finite")
    return Calibration(source, kind, samples)


def _error(source: str, what: str, hint: str) -> CalibrationError:
    return CalibrationError(f"--calibration {source}: {what}", hint=hint)


def _arrays(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    try:
        if path.suffix.lower() == ".npy":
            arrays = np.load(path, mmap_mode="r", allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as loaded:
                arrays = _one_array(loaded, path)
    except (OSError, ValueError, EOFError) as err:
        raise _error(os.fspath(path), f"not a readable numpy file ({err})",
                     "np.save(path, images) with float32 images N×C×H×W") from None
    if arrays.ndim != 4 or tuple(arrays.shape[1:]) != shape:
        want = "×".join(map(str, shape))
        raise _error(os.fspath(path), f"the arrays are {'×'.join(map(str, arrays.shape))}, "
                     f"the model takes N×{want}", f"N×{want} float arrays, preprocessed as "
                     "the model expects")
    if not np.issubdtype(arrays.dtype, np.floating):
        raise _error(os.fspath(path), f"the arrays are {arrays.dtype}",
                     "float arrays, preprocessed (normalized) as the model expects")
    return np.ascontiguousarray(arrays[:MAX_SAMPLES], dtype=np.float32)


def _one_array(loaded: Any, path: Path) -> np.ndarray:
    """A .npz's one array, or the one named `images`."""
    names = list(loaded.keys())
    if "images" in names:
        return loaded["images"]
    if len(names) != 1:
        raise _error(os.fspath(path), f"holds {len(names)} arrays ({', '.join(names[:5])})",
                     "one array, or one named images")
    return loaded[names[0]]


def _images(folder: Path, spec: Spec, shape: tuple[int, ...]) -> np.ndarray:
    files = sorted(p for p in folder.iterdir()
                   if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())[:MAX_SAMPLES]
    if not files:
        raise _error(os.fspath(folder), "holds no .jpg, .jpeg or .png files",
                     "a folder of images, or a .npy/.npz of preprocessed arrays")
    prep = spec.preprocess
    if prep is None or prep.mean is None or prep.std is None:
        raise _error(os.fspath(folder), f"the spec {spec.name} says no preprocess mean and std "
                     "to bring images to the model's input",
                     "add preprocess: {mean: [...], std: [...]} to the spec, or pass "
                     "preprocessed arrays as .npy/.npz")
    crop = prep.crop_size or (shape[1], shape[2])
    if tuple(crop) != shape[1:]:
        raise _error(os.fspath(folder), f"the spec's preprocess crops {crop[0]}×{crop[1]}, the "
                     f"model takes {shape[1]}×{shape[2]}",
                     "set preprocess.crop to the input's size, or pass .npy/.npz arrays")
    try:
        from PIL import Image
    except ImportError:
        raise _error(os.fspath(folder), "reading images needs Pillow, which is not installed",
                     "pip install 'resnet-spec[images]', or pass preprocessed arrays as "
                     ".npy/.npz") from None
    out = np.empty((len(files), *shape), dtype=np.float32)
    for i, file in enumerate(files):
        try:
            with Image.open(file) as image:
                out[i] = preprocess_image(image, prep.resize, crop,
                                          prep.per_channel("mean", shape[0]) or [],
                                          prep.per_channel("std", shape[0]) or [], shape[0])
        except (OSError, ValueError) as err:  # Pillow's errors for files it cannot decode
            raise _error(os.fspath(folder), f"{file.name}: {err}",
                         "jpg/png images at least as large as the crop") from None
    return out


def preprocess_image(image: Any, resize: int | None, crop: tuple[int, int],
                     mean: list[float], std: list[float], channels: int) -> np.ndarray:
    """A Pillow image as the model takes it, C×H×W float32: the shorter side resized to
    `resize` (bilinear; none when None), the center `crop` (height, width) cut, pixels scaled
    to 0..1, then (x - mean) / std per channel. torchvision's `Resize`, `CenterCrop`,
    `ToTensor`, `Normalize`."""
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(channels)
    if mode is None:
        raise ValueError(f"images have 1, 3 or 4 channels, the model takes {channels}")
    image = image.convert(mode)
    if resize is not None:  # torchvision's arithmetic: the longer side truncated
        width, height = image.size
        short, long = sorted((width, height))
        longer = int(resize * long / short)
        size = (resize, longer) if width <= height else (longer, resize)
        image = image.resize(size, resample=_bilinear())
    width, height = image.size
    if height < crop[0] or width < crop[1]:
        raise ValueError(f"{width}×{height} is smaller than the crop {crop[1]}×{crop[0]}")
    top, left = round((height - crop[0]) / 2.0), round((width - crop[1]) / 2.0)
    image = image.crop((left, top, left + crop[1], top + crop[0]))
    pixels = np.asarray(image, dtype=np.float32).reshape(crop[0], crop[1], channels) / 255.0
    normalized = (pixels - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return normalized.transpose(2, 0, 1)


def _bilinear() -> Any:
    from PIL import Image

    return Image.Resampling.BILINEAR
