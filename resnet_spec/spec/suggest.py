""""Did you mean": a suggestion only where the word is close in meaning as well as in spelling.

Two rules, tried in turn, each only among the names valid at that place:

1. A known synonym: the name torchvision, timm or common usage gives a field or value of this
   language (`num_classes` -> `classes`, `layers` -> `depth`, `planes` -> `width`, the shortcut
   `conv` -> `projection`, `bn` -> `batch`).
2. A typo: at most one edit (a letter wrong, missing, extra, or two swapped) in a word of up
   to 5 letters, two in a longer one (`depht` -> `depth`, `bottlenek` -> `bottleneck`).

Anything further is another word, not a misspelling of this one: `strides` is not `stages`,
`scale` is not `se`, `conv` is not `none`, `dropout` is not `drop_path`; those get no
suggestion (the message lists the valid names instead).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

SYNONYMS: dict[str, str] = {
    # fields, as torchvision's and timm's arguments name them
    "num_classes": "classes", "n_classes": "classes",
    "blocks": "depth", "num_blocks": "depth", "layers": "depth", "repeats": "depth",
    "planes": "width", "channels": "width", "filters": "width", "out_channels": "width",
    "cardinality": "groups", "width_per_group": "base_width",
    "drop_rate": "dropout", "drop_path_rate": "drop_path", "stochastic_depth": "drop_path",
    "act": "activation", "act_layer": "activation", "nonlinearity": "activation",
    "norm_layer": "norm", "normalization": "norm",
    "in_chans": "channels", "in_channels": "channels",
    "global_pool": "pool", "pooling": "pool",
    "downsample": "shortcut", "residual": "shortcut",
    "out_indices": "features", "classifier": "head",
    # values
    "conv": "projection", "1x1": "projection", "pad": "zero_pad", "avg_pool": "avg_down",
    "avgpool": "avg_down", "bn": "batch", "batchnorm": "batch", "batch_norm": "batch",
    "gn": "group", "groupnorm": "group", "group_norm": "group", "swish": "silu",
    "average": "avg", "mean": "avg",
}
"""A word -> the name this language gives the same thing (suggested only where it is valid)."""

LONGEST = 64
"""Words longer than this get no suggestion (the distance is quadratic in the length)."""


def closest(word: str, valid: Iterable[str]) -> str | None:
    """The valid name `word` most likely means, or None."""
    names = list(valid)
    lowered = word.lower()
    synonym = SYNONYMS.get(lowered)
    if synonym in names:
        return synonym
    if len(word) > LONGEST:
        return None
    allowed = 1 if len(word) <= 5 else 2
    scored = [(edits(lowered, name.lower()), name) for name in names]
    near = [(d, name) for d, name in scored if d <= allowed and d < len(name)]
    if not near:
        return None
    best = min(d for d, _ in near)
    ties = [name for d, name in near if d == best]
    return max(ties, key=lambda name: difflib.SequenceMatcher(None, lowered, name).ratio())


def edits(a: str, b: str) -> int:
    """The optimal-string-alignment distance: insertions, deletions, substitutions and swaps
    of two neighbouring letters, each one edit."""
    if abs(len(a) - len(b)) > 2:
        return abs(len(a) - len(b))
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], previous2[j - 2] + 1)
        previous2, previous = previous, row
    return previous[len(b)]
