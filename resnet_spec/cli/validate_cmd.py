"""`resnet-spec validate SPEC...`: schema and graph checks only; torch is never imported."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from resnet_spec import number_format as units
from resnet_spec.cli import EXIT_INVALID, output, report
from resnet_spec.cli.completion import complete_spec
from resnet_spec.cli.loading import load_spec
from resnet_spec.cli.options import set_option
from resnet_spec.errors import SpecError, SpecErrors
from resnet_spec.ir import Graph


def _fmt(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape)


def _debug_requested() -> bool:
    """Whether `--debug` was given: then the first error propagates, with its traceback."""
    # `main` takes `--debug` off the command line (it is accepted anywhere) and passes it as obj
    obj = click.get_current_context().find_root().obj
    return isinstance(obj, dict) and bool(obj.get("debug"))


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...",
                shell_complete=complete_spec)
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document instead: each spec's result, its warnings and its "
              "errors with file, line and column (docs/cli.md).")
@set_option
def validate(specs: tuple[str, ...], quiet: bool, as_json: bool,
             overrides: tuple[str, ...]) -> None:
    """Check each SPEC (file or built-in name): schema, extends, shapes, channels, limits.

    Prints one line per valid spec (name, blocks, output shape) and every error as
    file:line:col: message. Exits 1 when any spec is invalid.

    \b
    Examples:
      resnet-spec validate specs/*.yaml
      resnet-spec validate --json my_spec.yaml | jq '.specs[].errors'
      resnet-spec validate resnet50 --set norm=group --set stages.3.depth=2
    """
    debug = _debug_requested()
    results, failed = [], 0
    for ref in specs:
        graph, error = _check(ref, overrides, debug)
        failed += error is not None
        if as_json:
            results.append(result_json(ref, graph, error))
        else:
            _print_result(ref, graph, error, quiet)
    if as_json:
        json.dump({"ok": not failed, "specs": results}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif failed and len(specs) > 1:
        click.echo(f"{failed} of {len(specs)} specs invalid", err=True)
    if failed:
        sys.exit(EXIT_INVALID)


def _check(ref: str, overrides: tuple[str, ...], debug: bool
           ) -> tuple[Graph | None, SpecError | None]:
    """The checked graph of one spec, or the error that makes it invalid."""
    from resnet_spec.elaboration import elaborate

    try:
        return elaborate(load_spec(ref, overrides)), None
    except SpecError as err:
        if debug:
            raise
        return None, err


def _print_result(ref: str, graph: Graph | None, error: SpecError | None, quiet: bool) -> None:
    if graph is None:
        assert error is not None
        report(error)
        return
    for warning in graph.warnings:
        output.warn(warning)
    if not quiet:
        outputs = ", ".join(
            f"{name} {_fmt(graph.node(node).shape)}" for name, node in graph.outputs.items()
        )
        blocks = units.many(len(graph.blocks), "block")
        click.echo(f"ok  {graph.name}: {blocks}, {outputs}  ({ref})")


def result_json(ref: str, graph: Graph | None, error: SpecError | None) -> dict[str, Any]:
    """One spec's entry of `validate --json`."""
    errors = (error.errors if isinstance(error, SpecErrors) else [error]) if error else []
    return {
        "spec": ref,
        "ok": error is None,
        "name": graph.name if graph else None,
        "blocks": len(graph.blocks) if graph else None,
        "outputs": {name: list(graph.node(node).shape) for name, node in graph.outputs.items()}
        if graph else {},
        "warnings": list(graph.warnings) if graph else [],
        "errors": [error_json(e) for e in errors],
    }


def error_json(error: SpecError) -> dict[str, Any]:
    """An error as data: where (null where unknown), what, the hint, and its kind (`schema`,
    `yaml`, `extends`, `graph`, `limit`, ...: the `SpecError` subclass's name)."""
    loc = error.loc
    known = loc is not None and loc.line > 0
    return {
        "file": loc.file if loc else None,
        "line": loc.line if known else None,
        "column": loc.column if known else None,
        "path": loc.path or None if loc else None,
        "message": error.message,
        "hint": error.hint or None,
        "kind": type(error).__name__.removesuffix("Error").lower(),
        "notes": [_note_json(note) for note in getattr(error, "notes", ())],
    }


def _note_json(note: Any) -> dict[str, Any]:
    """A line of context under an error (such as the parent file's line of the stage a
    user's value breaks): its text and its place, null where it has none."""
    loc = note.loc
    known = loc is not None and loc.line > 0
    return {
        "text": note.text,
        "file": loc.file if loc else None,
        "line": loc.line if known else None,
        "column": loc.column if known else None,
    }
