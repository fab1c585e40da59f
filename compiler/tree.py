"""Which parts of the IR become submodules of the compiled model, each with its own forward.

The IR names every node with parameters by its module path (`layer2.0.downsample.0`), so the
dotted prefixes of the names already describe torchvision's tree: `layer2` (a stage),
`layer2.0` (a block), `layer2.0.downsample` (a shortcut). A prefix becomes a `Part`, lowered
as a module called with one tensor and returning one, when

- it holds parameters (so `stem.act`, `head.pool`, which only group parameter-free ops, stay
  calls of the parent: torchvision has `relu`, `maxpool`, `avgpool` at the top);
- it is not itself a node's name (`conv1` of a plain stem is a conv; of a deep stem, a part);
- exactly one value enters it and exactly one leaves it, so calling it computes the same thing
  as running its nodes in place (a prefix read from outside at two points stays inline).

Every node then sits in its deepest part, and the root holds the rest. Only the IR is read:
this module plans, `lower` builds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from resnet_spec.ir import Graph


@dataclass
class Part:
    """A subtree of the compiled module: the nodes and parts it runs, in graph order."""

    path: str
    """The IR name prefix, and the module's path in the model; "" for the root."""
    items: list[Any | Part] = field(default_factory=list)
    """IR nodes and nested parts, in the order the graph computes them."""
    input: str = ""
    """The IR node whose value the part takes (empty for the root, which takes the batch)."""
    output: str = ""
    """The IR node whose value the part returns (empty for the root)."""

    def local(self, name: str) -> str:
        """A name below this part, relative to it (`layer1.0.conv1` in `layer1.0` -> `conv1`)."""
        return name[len(self.path) + 1:] if self.path else name


def plan(graph: Graph) -> Part:
    """The tree of parts of `graph`, rooted at the whole model."""
    nodes = graph.nodes()
    members = _members(nodes)
    stateful = _stateful_prefixes(graph)
    exits = set(graph.outputs.values())
    names = {n.name for n in nodes}
    parts = {
        prefix: Part(prefix, input=ends[0], output=ends[1])
        for prefix, inside in members.items()
        if prefix in stateful and prefix not in names
        and (ends := _single_entry_and_exit(graph, inside, exits)) is not None
    }
    root = Part("")
    placed: set[str] = set()
    for node in nodes:
        chain = [p for p in _prefixes(node.name) if p in parts]
        parent = root
        for prefix in chain:
            if prefix not in placed:
                parent.items.append(parts[prefix])
                placed.add(prefix)
            parent = parts[prefix]
        parent.items.append(node)
    return root


def _prefixes(name: str) -> list[str]:
    """The proper dotted prefixes of a name, outermost first (`a.b.c` -> `a`, `a.b`)."""
    atoms = name.split(".")
    return [".".join(atoms[:i]) for i in range(1, len(atoms))]


def _members(nodes: list[Any]) -> dict[str, set[str]]:
    members: dict[str, set[str]] = {}
    for node in nodes:
        for prefix in _prefixes(node.name):
            members.setdefault(prefix, set()).add(node.name)
    return members


def _stateful_prefixes(graph: Graph) -> set[str]:
    """Every prefix under which some parameter or buffer lives."""
    found: set[str] = set()
    for key in graph.state_shapes():
        found.update(_prefixes(key))
    return found


def _single_entry_and_exit(graph: Graph, inside: set[str], exits: set[str]
                           ) -> tuple[str, str] | None:
    """(the one node read from outside, the one node read outside), or None if not one each."""
    entering = {src for name in inside for src in graph.node(name).inputs if src not in inside}
    leaving = {name for name in inside
               if name in exits or any(user not in inside for user in graph.users(name))}
    if len(entering) != 1 or len(leaving) != 1:
        return None
    return next(iter(entering)), next(iter(leaving))
