"""`resnet-spec summary SPEC`: params, MACs, activations, shapes and receptive fields, from the IR
alone (torch is never imported)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from resnet_spec.cli import output
from resnet_spec.cli.completion import complete_spec
from resnet_spec.cli.options import set_option
from resnet_spec.number_format import DTYPE_BYTES


@click.command()
@click.argument("spec", metavar="SPEC", shell_complete=complete_spec)
@click.option("--layers", is_flag=True, help="One row per IR node instead of one per stage.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Batch size for the activation memory.")
@click.option("--dtype", type=click.Choice(list(DTYPE_BYTES)), default="float32",
              show_default=True, help="Element type for the activation memory.")
@set_option
def summary(spec: str, layers: bool, as_json: bool, batch: int, dtype: str,
            overrides: tuple[str, ...]) -> None:
    """Cost of SPEC (file or built-in name) per stage, or per layer, and in total.

    MACs count the multiply-accumulates of convolutions and linear layers for one image (the
    paper's and torchvision's convention; torch's FlopCounterMode reports twice this). The
    receptive field is the side, in input pixels, of what one output element sees.

    \b
    Examples:
      resnet-spec summary resnet50
      resnet-spec summary specs/resnet50.yaml --layers
      resnet-spec summary resnet50 --json --batch 64 --dtype float16
      resnet-spec summary resnet50 --set input.height=512 --set input.width=512
    """
    import resnet_spec
    from resnet_spec.ir.cost import analyze, to_json

    graph = resnet_spec.elaborate(spec, overrides)
    for warning in graph.warnings:
        output.warn(warning)
    cost = analyze(graph)
    if as_json:
        json.dump(to_json(cost, batch=batch, dtype=dtype, layers=layers), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    _print_table(cost, layers=layers, batch=batch, dtype=dtype)


def _print_table(cost: Any, *, layers: bool, batch: int, dtype: str) -> None:
    from resnet_spec.cli.output import console as new_console
    from resnet_spec.ir.cost import totals_lines

    console = new_console(highlight=False, width=None if sys.stdout.isatty() else 160)
    console.print(_layer_table(cost) if layers else _stage_table(cost))
    for line in totals_lines(cost, batch=batch, dtype=dtype):
        console.print(line[2:], markup=False)


def _new_table(cost: Any, first: list[str]) -> Any:
    from rich.markup import escape
    from rich.table import Table

    from resnet_spec import number_format as units

    # the description is free text: square brackets in it are not rich markup
    title = escape(f"{cost.name}: {cost.description}" if cost.description else cost.name)
    table = Table(title=title, caption=f"input {units.shape(cost.input_shape)}",
                  show_footer=False)
    for name in first:
        table.add_column(name)
    for name in ("output", "stride", "RF", "params", "MACs", "activations"):
        table.add_column(name, justify="left" if name == "output" else "right")
    return table


def _cells(item: Any) -> list[str]:
    from resnet_spec import number_format as units

    return [units.shape(item.output_shape), str(item.stride), str(item.receptive_field),
            units.count(item.params), units.count(item.macs), units.count(item.activations)]


def _stage_table(cost: Any) -> Any:
    from resnet_spec import number_format as units

    table = _new_table(cost, ["stage", "blocks"])
    for stage in cost.stages:
        table.add_row(stage.name, str(stage.depth or ""), *_cells(stage))
    table.add_section()
    table.add_row("total", str(sum(s.depth for s in cost.stages)), "", "", "",
                  units.count(cost.params), units.count(cost.macs),
                  units.count(cost.activations), style="bold")
    return table


def _layer_table(cost: Any) -> Any:
    from resnet_spec import number_format as units

    table = _new_table(cost, ["layer", "op"])
    for stage in cost.stages:
        for name in stage.nodes:
            node = cost.nodes[name]
            table.add_row(name, node.label, *_cells(node))
        table.add_section()
    table.add_row("total", "", "", "", "", units.count(cost.params), units.count(cost.macs),
                  units.count(cost.activations), style="bold")
    return table
