"""`manifest.json`: what a build or export made, from what, with which versions: the spec and
its `--set`s, the seed and weights file, the totals, each step's seconds, every file's sha256,
the notes, and with targets the batch range, precision, preprocessing, calibration and each
target's entry."""

from __future__ import annotations

import hashlib
import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from resnet_spec.deploy.image_size import ImageSizes
from resnet_spec.deploy.targets import registered
from resnet_spec.ir import Graph
from resnet_spec.ir.cost import GraphCost
from resnet_spec.pipeline.options import BuildOptions
from resnet_spec.pipeline.outdir import MANIFEST
from resnet_spec.spec.schema import Spec
from resnet_spec.version import __version__


@dataclass(frozen=True)
class BuildRecord:
    """What the steps made that the manifest records."""

    spec: Spec
    graph: Graph
    cost: GraphCost
    image_size: ImageSizes | None
    """`--image-size` fitted to the graph's total stride; None: the spec's fixed size."""
    targets: tuple[str, ...]
    """The targets built, in order (not one handed off)."""
    reports: dict[str, Any]
    """Each target's entry (`compiler.targets`' `build`), a hand-off's too."""
    samples: Any = None
    """int8: the `resnet_spec.deploy.calibration.Calibration` the files were calibrated on."""


def manifest(ref: str, options: BuildOptions, record: BuildRecord, folder: Path,
             seconds: dict[str, float], notes: list[str]) -> dict[str, Any]:
    """The manifest of the files in `folder`, made from the spec given as `ref` (its path or
    name, `<dict>`) with `options`, each step's `seconds` so far, and the `notes`."""
    data = {
        "name": record.cost.name,
        "spec": ref,
        "overrides": list(options.overrides),
        "versions": versions(record.targets),
        "seed": options.seed,
        "weights": weights_entry(options.weights,
                                 record.graph if options.reinit_head else None),
        "params": record.cost.params,
        "macs": record.cost.macs,
        "seconds": {name: round(s, 3) for name, s in seconds.items()},
        "files": {
            p.relative_to(folder).as_posix(): sha256(p)
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.relative_to(folder).as_posix() != MANIFEST
        },
        "notes": notes,
    }
    if record.targets:
        data["batch"] = options.batch.as_json()
        data["precision"] = options.precision
        data["preprocessing"] = preprocessing(record.spec)
        if record.samples is not None:
            data["calibration"] = {**record.samples.as_json(),
                                   "min_agreement": options.min_agreement}
        data["targets"] = record.reports
    if record.targets or record.image_size:
        data["image_size"] = record.image_size.as_json() if record.image_size else "fixed"
    return data


def preprocessing(spec: Spec) -> dict[str, Any] | None:
    """The spec's `preprocess` as recorded with deployed files, the crop as [height, width]
    (the input's when unset); None when the spec says none."""
    from resnet_spec.deploy.calibration import preprocessing as recorded

    return recorded(spec)


def versions(targets: tuple[str, ...] = ()) -> dict[str, str]:
    """This tool's, torch's and Python's versions, and those of the runtimes `targets` use
    (their registrations' `runtimes`) that are installed."""
    found = {
        "resnet_spec": __version__,
        "torch": _version("torch") or "unknown",
        "python": platform.python_version(),
    }
    for package in (p for t in targets for p in registered(t).runtimes):
        version = _version(package)
        if version is not None:
            found[package.replace("-", "_")] = version
    return found


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def weights_entry(weights: Path | None, reinit: Graph | None = None) -> dict[str, Any] | None:
    """The file's path and sha256; with --reinit-head, the keys initialized from the seed."""
    if weights is None:
        return None
    entry: dict[str, Any] = {"path": os.fspath(weights), "sha256": sha256(weights)}
    if reinit is not None:
        entry["reinit_head"] = [key for node in reinit.classifier() for key in node.params()]
    return entry


def sha256(path: Path) -> str:
    """The hex sha256 of a file, read in chunks (a `.pt2` can be hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
