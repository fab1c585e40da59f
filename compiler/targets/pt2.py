"""`pt2`: the exported program itself, saved with `torch.export.save` and loaded back."""

from __future__ import annotations

from typing import Any

import numpy as np

from resnet_spec.compiler.targets.check import check, output_names
from resnet_spec.compiler.targets.job import Job

FILE = "model.pt2"


def missing() -> str | None:
    return None


def build(job: Job) -> dict[str, Any]:
    """Write `model.pt2` and compare the program loaded from it with the module."""
    import torch

    from resnet_spec.compiler.export import load_pt2, program_bytes

    job.progress(f"writing {FILE}")
    path = job.write(FILE, program_bytes(job.program))
    job.progress(f"loading {FILE}")
    loaded = load_pt2(path)
    names = output_names(job.graph)

    def run(x: np.ndarray) -> dict[str, np.ndarray]:
        with torch.no_grad():
            out = loaded(torch.from_numpy(x))
        out = out if isinstance(out, dict) else {names[0]: out}
        return {name: out[name].numpy() for name in names}

    result = check(job, FILE, run, f"torch {torch.__version__.split('+')[0]}")
    return {"files": [FILE], "precision": "fp32", "check": result.as_json()}
