"""`resnet-spec render SPEC [-o FILE]`: a diagram from the IR; torch is never imported."""

from __future__ import annotations

import click

from resnet_spec.cli import CapabilityMissing
from resnet_spec.cli.completion import complete_spec
from resnet_spec.cli.options import diagram_suffix, set_option
from resnet_spec.cli.output import warn
from resnet_spec.render import DIRECTIONS, LEVELS


@click.command()
@click.argument("spec", metavar="SPEC", shell_complete=complete_spec)
@click.option("--level", type=click.Choice(LEVELS), default="blocks", show_default=True,
              help="stages: a box per stage; blocks: a box per block with its shortcut; "
                   "layers: every op.")
@click.option("--direction", type=click.Choice(DIRECTIONS), default="TB", show_default=True,
              help="Top to bottom or left to right.")
@click.option("--collapse/--no-collapse", default=None,
              help="Fold runs of identical blocks into one box marked ×N "
                   "[default: on above 40 blocks].")
@click.option("-o", "--output", type=click.Path(dir_okay=False), callback=diagram_suffix,
              help="FILE.svg, FILE.png or FILE.dot; without it the DOT goes to stdout.")
@set_option
def render(spec: str, level: str, direction: str, collapse: bool | None,
           output: str | None, overrides: tuple[str, ...]) -> None:
    """Draw SPEC (a file or a built-in name) as a diagram, straight from the checked IR.

    SVG and PNG use the system `dot` when it is on PATH, else the `graphviz-pure` binary
    installed with resnet-spec; `.dot` needs neither.

    \b
    Examples:
      resnet-spec render resnet50 --level blocks -o r50.svg
      resnet-spec render cifar_resnet1202 --level layers -o r1202.png
      resnet-spec render specs/resnet18.yaml --level stages --direction LR | dot -Tpdf > r18.pdf
    """
    import resnet_spec
    from resnet_spec.cli.diagram_output import refuse_inputs, write_or_explain
    from resnet_spec.cli.loading import load_spec
    from resnet_spec.render import RendererMissing, to_dot, write_diagram

    loaded = load_spec(spec, overrides)
    if output is not None:
        refuse_inputs(output, [loaded])
    graph = resnet_spec.elaborate(loaded)
    for warning in graph.warnings:
        warn(warning)
    options = {"level": level, "direction": direction, "collapse": collapse}
    if output is None:
        click.echo(to_dot(graph, **options), nl=False)
        return
    try:
        write_or_explain(output, lambda: write_diagram(graph, output, **options))
    except RendererMissing as err:
        raise CapabilityMissing(str(err)) from err
    click.echo(f"wrote {output}", err=True)
