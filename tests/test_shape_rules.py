"""The IR's window arithmetic equals PyTorch's for every small case, ceil mode included (a
2x2/2 ceil-mode pool of a 1x1 map gives 1x1 in torch; the fuzzing found the IR saying 0x0)."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from resnet_spec.ir.op import spatial as _spatial


def _torch_size(size: int, kernel: int, stride: int, padding: int, dilation: int,
                ceil: bool) -> int:
    x = torch.ones(1, 1, size, size)
    try:
        return F.max_pool2d(x, kernel, stride, padding, dilation=dilation,
                            ceil_mode=ceil).shape[-1]
    except RuntimeError:  # torch refuses an empty output
        return 0


def test_window_sizes_equal_torch_pooling() -> None:
    cases = itertools.product(range(1, 9), range(1, 6), range(1, 4), range(3), range(1, 3),
                              (False, True))
    wrong = [case for case in cases if case[3] <= case[1] // 2
             and _spatial(*case) != _torch_size(*case)]
    assert wrong == []
