"""Published figures the built-in specs must reproduce, with where each table comes from.

The tests that check them (`test_specs.py`, `test_cost.py`) read them from here, so the numbers
live in one place in the repository. MACs are multiply-accumulates of one image at the spec's
input size (224x224 for ImageNet, 32x32 for CIFAR).
"""

from __future__ import annotations

# torchvision, torchvision/models/resnet.py: the metadata of each model's DEFAULT weights,
# `num_params` and `_ops` (test_cost.py holds them to the installed torchvision's). `_ops` is
# labelled GFLOPS but counts multiply-accumulates (torch's FlopCounterMode reports exactly twice
# it). The v1.5 layout (the bottleneck's stride on the 3x3 conv).
# model -> (parameters, GMACs as printed, three decimals)
TORCHVISION: dict[str, tuple[int, float]] = {
    "resnet18": (11_689_512, 1.814),
    "resnet34": (21_797_672, 3.664),
    "resnet50": (25_557_032, 4.089),
    "resnet101": (44_549_160, 7.801),
    "resnet152": (60_192_808, 11.514),
    "resnext50_32x4d": (25_028_904, 4.230),
    "resnext101_32x8d": (88_791_336, 16.414),
    "resnext101_64x4d": (83_455_272, 15.460),
    "wide_resnet50_2": (68_883_240, 11.398),
    "wide_resnet101_2": (126_886_696, 22.753),
}

# He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
# (arXiv:1512.03385), Table 1: "FLOPs" of the ImageNet models, which are multiply-adds, in
# units of 1e9 with one decimal, for the original v1 layout (the stride on the first 1x1).
# The paper's 18 and 34 are torchvision's; its 50, 101, 152 are our `_v1` specs.
PAPER_TABLE1_GMACS: dict[str, float] = {
    "resnet18": 1.8, "resnet34": 3.6, "resnet50_v1": 3.8, "resnet101_v1": 7.6,
    "resnet152_v1": 11.3,
}

# The same paper, Table 6: the CIFAR-10 networks (6n+2 layers, n basic blocks per stage),
# model -> (n, parameters as printed).
PAPER_TABLE6: dict[str, tuple[int, str]] = {
    "cifar_resnet20": (3, "0.27M"),
    "cifar_resnet32": (5, "0.46M"),
    "cifar_resnet44": (7, "0.66M"),
    "cifar_resnet56": (9, "0.85M"),
    "cifar_resnet110": (18, "1.7M"),
    "cifar_resnet1202": (200, "19.4M"),
}

# He, Zhang, Ren, Sun, "Identity Mappings in Deep Residual Networks", ECCV 2016
# (arXiv:1603.05027), Table 3: the pre-activation ResNet-164 on CIFAR, (n, parameters).
IDENTITY_MAPPINGS_TABLE3: dict[str, tuple[int, str]] = {"cifar_preact_resnet164": (18, "1.7M")}

# Zagoruyko and Komodakis, "Wide Residual Networks", BMVC 2016 (arXiv:1605.07146), Table 5:
# WRN-28-10 on CIFAR, printed as 36.5M parameters; the exact count (36,479,194, with 1x1
# projections where the width changes and 10 classes) is the one the issue quotes for the
# authors' layout. model -> (exact parameters, as printed)
WIDE_RESNETS: dict[str, tuple[int, str]] = {
    "wrn28_10": (36_479_194, "36.5M"),
}
