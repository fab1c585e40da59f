"""Limits that keep a hostile or mistaken spec from exhausting time or memory."""

MAX_FILE_BYTES = 1 << 20
"""A spec larger than 1 MiB is refused before parsing."""

MAX_YAML_NODES = 100_000
"""Values constructed from one file, aliases expanded: bounds billion-laughs documents."""

MAX_YAML_DEPTH = 64
"""Nesting of mappings and sequences."""

MAX_EXTENDS_DEPTH = 16
"""Files in an `extends` chain below the one named."""

MAX_BLOCKS = 10_000
"""Residual blocks in all stages together."""

MAX_CHANNELS = 65_536
"""Channels of any one layer."""

MAX_SPATIAL = 16_384
"""Input height and width."""
