"""`resnet-spec validate SPEC...`: schema and graph checks only; torch is never imported."""

from __future__ import annotations

import sys

import click

from resnet_spec.cli import EXIT_INVALID, report
from resnet_spec.cli.options import set_option
from resnet_spec.errors import SpecError


def _fmt(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape)


def _debug_requested() -> bool:
    """Whether `--debug` was given: then the first error propagates, with its traceback."""
    # `main` takes `--debug` off the command line (it is accepted anywhere) and passes it as obj
    obj = click.get_current_context().find_root().obj
    return isinstance(obj, dict) and bool(obj.get("debug"))


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
@set_option
def validate(specs: tuple[str, ...], quiet: bool, overrides: tuple[str, ...]) -> None:
    """Check each SPEC (file or built-in name): schema, extends, shapes, channels, limits.

    Prints one line per valid spec (name, blocks, output shape) and every error as
    file:line:col: message. Exits 1 when any spec is invalid.

    \b
    Examples:
      resnet-spec validate specs/*.yaml
      resnet-spec validate resnet50 --set norm=group --set stages.3.depth=2
    """
    import resnet_spec

    debug = _debug_requested()
    failed = 0
    for ref in specs:
        try:
            graph = resnet_spec.elaborate(ref, overrides)
        except SpecError as err:
            if debug:
                raise
            failed += 1
            report(err)
            continue
        for warning in graph.warnings:
            click.echo(warning, err=True)
        if not quiet:
            outputs = ", ".join(
                f"{name} {_fmt(graph.node(node).shape)}" for name, node in graph.outputs.items()
            )
            click.echo(f"ok  {graph.name}: {len(graph.blocks)} blocks, {outputs}  ({ref})")
    if failed:
        if len(specs) > 1:
            click.echo(f"{failed} of {len(specs)} specs invalid", err=True)
        sys.exit(EXIT_INVALID)
