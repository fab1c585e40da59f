"""`resnet-spec diff A B`: the resolved fields, the costs and the blocks that differ between two
specs, as text, JSON or a diagram of both with the blocks that differ marked; torch is never
imported.
The comparison itself is `resnet_spec.ir.diff`."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from resnet_spec.cli import CapabilityMissing
from resnet_spec.cli.completion import complete_spec
from resnet_spec.cli.loading import load_spec
from resnet_spec.cli.options import diagram_suffix, set_option
from resnet_spec.cli.output import warn

VALUE_COLUMN = 40
"""Characters a field's value is padded to before its source, in the text report."""


@click.command()
@click.argument("a", metavar="A", shell_complete=complete_spec)
@click.argument("b", metavar="B", shell_complete=complete_spec)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), callback=diagram_suffix,
              help="Also draw A and B side by side at the blocks level, the blocks that "
              "differ marked on both (changed red, only in A dashed grey, only in B green): "
              "FILE.svg, FILE.png or FILE.dot.")
@set_option
def diff(a: str, b: str, as_json: bool, output: str | None, overrides: tuple[str, ...]
         ) -> None:
    """Compare spec A with spec B (files or built-in names): the resolved fields that differ,
    each with its value and the file:line:col that set it (or `default`) on both sides; the
    change in params, MACs and activations per stage and in total; and the blocks of B that
    compute something else than the block at the same place in A.

    `--set` changes B only, so `diff resnet50 resnet50 --set norm=group` shows what one
    change does. Exits 0 whether or not they differ (1 only when a spec is invalid);
    `--json` has `same`.

    \b
    Examples:
      resnet-spec diff resnet50 resnet50d
      resnet-spec diff resnet18 my_resnet18.yaml -o changes.svg
      resnet-spec diff resnet50 resnext50_32x4d --json | jq .cost
      resnet-spec diff resnet18 resnet18 --set stages.2.depth=4
    """
    from resnet_spec.elaboration import elaborate
    from resnet_spec.ir.diff import diff_specs, to_json

    spec_a, spec_b = load_spec(a), load_spec(b, overrides)
    if output:
        from resnet_spec.cli.diagram_output import refuse_inputs

        refuse_inputs(output, [spec_a, spec_b])
    graph_a, graph_b = elaborate(spec_a), elaborate(spec_b)
    for warning in [*graph_a.warnings, *graph_b.warnings]:
        warn(warning)
    result = diff_specs(spec_a, graph_a, spec_b, graph_b)
    if as_json:
        json.dump(to_json(result, a, b), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_report(result, a, b)
    if output:
        _draw(graph_a, graph_b, result, output)


def _draw(graph_a: Any, graph_b: Any, result: Any, output: str) -> None:
    from resnet_spec.cli.diagram_output import write_or_explain
    from resnet_spec.render import RendererMissing, write_sides

    try:
        write_or_explain(output, lambda: write_sides(
            graph_a, graph_b, result.boxes.marks("a"), result.boxes.marks("b"), output))
    except RendererMissing as err:
        raise CapabilityMissing(str(err)) from err
    click.echo(f"wrote {output}", err=True)


def _print_report(result: Any, a: str, b: str) -> None:
    click.echo(f"A: {result.a_name} ({a})\nB: {result.b_name} ({b})\n")
    if result.same:
        click.echo(f"no differences: {a} and {b} resolve to the same spec")
        return
    count = len(result.fields)
    click.echo(f"{count} field{'s differ' if count > 1 else ' differs'}:")
    for change in result.fields:
        click.echo(f"  {change.path}")
        click.echo(_side_line("-", change.a))
        click.echo(_side_line("+", change.b))
    click.echo()
    _print_costs(result)
    click.echo()
    for line in _box_lines(result.boxes):
        click.echo(line)


def _side_line(mark: str, side: Any) -> str:
    if side is None:
        return f"    {mark} (absent)"
    value = json.dumps(side.value, ensure_ascii=False)
    where = side.source + (f" (via {side.via})" if side.via else "")
    return f"    {mark} {value:<{VALUE_COLUMN}}  {where}"


def _print_costs(result: Any) -> None:
    from rich.table import Table

    from resnet_spec.cli.output import console
    from resnet_spec.ir.diff import METRICS

    table = Table(title="cost per image, A → B")
    table.add_column("stage")
    for metric in METRICS:
        table.add_column(metric, justify="right")
        table.add_column("change", justify="right")
    for row in result.costs:
        cells = [cell for metric in METRICS for cell in _cost_cells(row, metric)]
        if row.name == "total":
            table.add_section()
        table.add_row(row.name, *cells, style="bold" if row.name == "total" else None)
    console(highlight=False, width=None if sys.stdout.isatty() else 160).print(table)


def _cost_cells(row: Any, metric: str) -> tuple[str, str]:
    """`A → B` (or the one value where they agree, `new`/`gone` where a side lacks the stage),
    and the change with its percentage of A."""
    from resnet_spec import number_format as units

    before = row.a[metric] if row.a else None
    after = row.b[metric] if row.b else None
    if before is None or after is None:
        present = units.count(after if before is None else before)
        return present, "new" if before is None else "gone"
    if before == after:
        return units.count(after), ""
    change = after - before
    sign = "+" if change > 0 else ""
    percent = f" ({change / before:+.1%})" if before else ""
    return f"{units.count(before)} → {units.count(after)}", f"{sign}{units.count(change)}{percent}"


def _box_lines(boxes: Any) -> list[str]:
    lines = [f"blocks: {len(boxes.highlighted)} of B's {boxes.total} differ from A (residual "
             "blocks, stem and head)"]
    for label, names in (("changed", boxes.changed), ("only in B", boxes.added),
                         ("only in A", boxes.removed)):
        if names:
            lines.append(f"  {label}: {', '.join(names)}")
    return lines
