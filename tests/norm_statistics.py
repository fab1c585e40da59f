"""Random batch-norm statistics for the folding tests: with torch's defaults (mean 0, var 1,
weight 1, bias 0) a fold that forgot a term would still give the right outputs."""

from __future__ import annotations

import torch
from torch import nn


def scrambled(model: nn.Module, seed: int = 0) -> nn.Module:
    """`model` in eval mode with random statistics (and affine parameters, where it has them)
    in every BatchNorm2d."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                if m.affine:
                    m.weight.uniform_(0.5, 1.5, generator=gen)
                    m.bias.normal_(0, 0.1, generator=gen)
                m.running_mean.normal_(0, 0.1, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
    return model.eval()
