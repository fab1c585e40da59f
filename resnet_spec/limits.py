"""Limits that keep a hostile or mistaken spec from exhausting time or memory."""

MAX_FILE_BYTES = 1 << 20
"""A spec larger than 1 MiB is refused before parsing."""

MAX_YAML_NODES = 20_000
"""Values in one file, counted twice: as the parser composes them, so that a huge flow list
fails after a bounded amount of work at the line where the budget ran out, and as they are
constructed with aliases expanded, which bounds billion-laughs documents. The largest spec the
schema allows (64 stages, every field written) has under 3,000."""

MAX_NUMBER_DIGITS = 100
"""Digits of an integer literal (far beyond any valid value, far below Python's int-from-str
limit of 4300, which would otherwise be an internal error)."""

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

MAX_ERRORS_SHOWN = 20
"""Errors printed for one spec; the rest are counted (`... and 95980 more errors`)."""

MAX_ECHO_CHARS = 60
"""Characters of a value (or key, or file name) echoed in a message; longer ones are cut."""

MAX_LAYOUT_NODES = 5_000
MAX_LAYOUT_EDGES = 10_000
"""Nodes and edges of a diagram handed to `dot` for SVG or PNG (DOT output is not bounded).
Layout grows faster than the graph: measured with graphviz-pure (docs/diagrams.md), 3,618 nodes
took 9 s and 290 MB, 7,218 took 37 s and 900 MB, and a 10,000-block net uncollapsed at
`--level layers` ran to 23.5 GB before the kernel killed it."""

MAX_RENDER_BYTES = 2 << 30
"""Address space of the renderer process: past it, its allocations fail and the render is one
clean error, whatever the diagram (about four times what the largest diagram within the node and
edge bounds needs)."""
