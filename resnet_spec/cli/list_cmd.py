"""`resnet-spec list`: every built-in spec with its size and cost (torch is never imported)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from resnet_spec.cli import EXIT_INVALID, report
from resnet_spec.cli.output import console
from resnet_spec.errors import SpecError


def _row(name: str) -> dict[str, Any]:
    import resnet_spec
    from resnet_spec.cost import analyze

    graph = resnet_spec.elaborate(name)
    cost = analyze(graph)
    return {
        "name": graph.name,
        "blocks": len(graph.blocks),
        "params": cost.params,
        "macs": cost.macs,
        "input_shape": list(cost.input_shape),
        "description": graph.description,
    }


@click.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def list_specs(as_json: bool) -> None:
    """The built-in specs, usable by name wherever a command takes SPEC, with their blocks,
    parameters, GMACs (multiply-accumulates per image) and example input.

    \b
    Examples:
      resnet-spec list
      resnet-spec list --json
    """
    from resnet_spec import builtins

    rows, failed = [], False
    for name in builtins.names():
        try:
            rows.append(_row(name))
        except SpecError as err:  # a broken built-in is a bug, but the others still list
            report(err)
            failed = True
    if as_json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_table(rows)
    if failed:
        sys.exit(EXIT_INVALID)


def _print_table(rows: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from resnet_spec import units

    table = Table(title="built-in specs")
    for column in ("name", "blocks", "params", "GMACs", "input", "description"):
        justify = "right" if column in ("blocks", "params", "GMACs") else "left"
        table.add_column(column, justify=justify)
    for row in rows:
        table.add_row(row["name"], str(row["blocks"]), units.count(row["params"]),
                      f"{row['macs'] / 1e9:.3f}", units.shape(row["input_shape"]),
                      escape(row["description"]))
    console(highlight=False, width=None if sys.stdout.isatty() else 200).print(table)
