"""`--image-size MIN:MAX`: deployment files whose height and width are dynamic, and the sizes
they take. No torch here: the CLI parses the option, the pipeline checks it against the graph.

A ResNet takes any H×W whose every strided op divides evenly: the sizes that are a multiple of
the network's total stride S (32 for ResNet-50, 4 for the CIFAR nets, the `output_stride` of a
dilated backbone). The exported program declares exactly that, H = S·h and W = S·w with h, w
whole: torch.export can then prove every conv, pool and shortcut shape without guarding on the
remainder of a division, which it would refuse for a free H. The smallest valid size is 2·S,
not S: torch.export treats a dimension of size 1 as a special case (it broadcasts), so a
program traced with larger maps guards against the last map being 1×1 and refuses that input
at run time. Height and width vary independently within MIN..MAX.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resnet_spec.deploy.options import OptionError


@dataclass(frozen=True)
class ImageSizes:
    """Heights and widths a deployed model takes: multiples of `stride` in `min`..`max`."""

    min: int
    max: int
    stride: int = 1
    """The network's total stride (1 until `for_graph` sets it)."""

    def __str__(self) -> str:
        return f"{self.min}:{self.max}"

    @classmethod
    def parse(cls, text: str) -> ImageSizes:
        """`MIN:MAX` in pixels (`224:640`); both bound height and width."""
        parts = text.split(":")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise OptionError(f"--image-size {text!r}: expected MIN:MAX in pixels such as "
                              "224:640 (height and width each anywhere in that range)")
        low, high = (int(p) for p in parts)
        if not 1 <= low <= high:
            raise OptionError(f"--image-size {text!r}: need 1 <= MIN <= MAX")
        return cls(low, high)

    def for_graph(self, stride: int, height: int, width: int, name: str) -> ImageSizes:
        """These bounds for a network of total `stride` whose spec's input is `height` ×
        `width`; OptionError unless the bounds are multiples of the stride and hold the spec's
        size (the files are checked at it)."""
        step = f"{name}'s total stride is {stride}: valid sizes are {2 * stride}, " \
               f"{3 * stride}, {4 * stride}, ..."
        for value in (self.min, self.max):
            if value % stride or value < 2 * stride:
                lower = max(2 * stride, value // stride * stride)
                upper = max(2 * stride, -(-value // stride) * stride)
                near = f"{lower}" if lower == upper else f"{lower} or {upper}"
                raise OptionError(f"--image-size {self}: {value} is not a valid size ({step}; "
                                  f"{near} would be)")
        for value in (height, width):
            if value % stride or not self.min <= value <= self.max:
                raise OptionError(f"--image-size {self}: the spec's input {height}x{width} "
                                  f"must lie in the range and be a multiple of {stride} ({step}); "
                                  "the files are checked at the spec's size")
        return ImageSizes(self.min, self.max, stride)

    def valid(self) -> str:
        """The sizes as the user should read them: `64, 96, ..., 448 (multiples of 32)`."""
        return (f"{self.min}, {self.min + self.stride}, ..., {self.max} (multiples of "
                f"{self.stride}), height and width each")

    def other_size(self, height: int, width: int) -> tuple[int, int]:
        """A second valid size to check the files at, its height unlike its width: one
        stride above (or below) the spec's height, the width kept. (height, width) itself
        when the range holds one size."""
        for candidate in (height + self.stride, height - self.stride):
            if self.min <= candidate <= self.max:
                return candidate, width
        return height, width

    def as_json(self) -> dict[str, Any]:
        return {"min": self.min, "max": self.max, "multiple_of": self.stride,
                "dims": ["height", "width"]}


def total_stride(cost: Any) -> int:
    """The largest effective stride of any feature map of the network (`cost.analyze`'s)."""
    return max((n.stride for n in cost.nodes.values() if len(n.output_shape) == 3), default=1)
