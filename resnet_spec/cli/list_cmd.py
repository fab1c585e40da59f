"""`resnet-spec list`: every built-in spec with its size and cost; `--plugins`: what installed
packages register (torch is never imported)."""

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
    from resnet_spec.ir.cost import analyze

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
@click.option("--plugins", "plugins", is_flag=True,
              help="List the block kinds, attention kinds and ops that installed packages "
              "register, with the package of each, instead of the built-in specs.")
def list_specs(as_json: bool, plugins: bool) -> None:
    """The built-in specs, usable by name wherever a command takes SPEC, with their blocks,
    parameters, GMACs (multiply-accumulates per image) and example input.

    With --plugins: every registration of an installed package (entry point groups
    `resnet_spec.blocks`, `resnet_spec.ops`, `resnet_spec.attention`), with its package and
    version, and why it is not registered where it is not (docs/extending.md).

    \b
    Examples:
      resnet-spec list
      resnet-spec list --json
      resnet-spec list --plugins
    """
    if plugins:
        _list_plugins(as_json)
        return
    from resnet_spec.spec import builtins

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

    from resnet_spec import number_format as units

    table = Table(title="built-in specs")
    for column in ("name", "blocks", "params", "GMACs", "input", "description"):
        justify = "right" if column in ("blocks", "params", "GMACs") else "left"
        table.add_column(column, justify=justify)
    for row in rows:
        table.add_row(row["name"], str(row["blocks"]), units.count(row["params"]),
                      f"{row['macs'] / 1e9:.3f}", units.shape(row["input_shape"]),
                      escape(row["description"]))
    console(highlight=False, width=None if sys.stdout.isatty() else 200).print(table)


def _list_plugins(as_json: bool) -> None:
    import warnings

    from resnet_spec import plugins

    with warnings.catch_warnings():  # the refusals are rows of the listing, not warnings
        warnings.simplefilter("ignore", plugins.PluginWarning)
        found = plugins.registrations()
    rows = [{"group": r.group, "name": r.name, "package": r.package, "version": r.version,
             "entry_point": r.value, "registered": not r.problem, "problem": r.problem or None}
            for r in found]
    if as_json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    if not rows:
        click.echo("no plugins installed (packages register block kinds, attention kinds and ops "
                   "under the "
                   "entry point groups " + ", ".join(f"`{g}`" for g in plugins.GROUPS) + ")")
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="plugins")
    for column in ("group", "name", "package", "version", "entry point", "status"):
        table.add_column(column)
    for row in rows:
        status = "registered" if row["registered"] else f"refused: {row['problem']}"
        table.add_row(*(escape(str(row[k])) for k in ("group", "name", "package", "version",
                                                       "entry_point")), escape(status))
    console(highlight=False, width=None if sys.stdout.isatty() else 200).print(table)
