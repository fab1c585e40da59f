"""`resnet-spec build SPEC`: the whole pipeline into one folder (see resnet_spec.pipeline)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from resnet_spec import units


def _progress(index: int, total: int, name: str, seconds: float | None) -> None:
    """`[7/8] export      26.76 s`; on a terminal the step's name shows while it runs."""
    head = f"[{index}/{total}] {name:<10}"
    live = sys.stderr.isatty()
    if seconds is None:
        if live:
            click.echo(f"{head}    ...", err=True, nl=False)
        return
    tail = "failed" if seconds < 0 else f"{seconds:6.2f} s"
    click.echo(f"{chr(13) if live else ''}{head} {tail}", err=True)


def _note(line: str) -> None:
    click.echo(f"      note: {line}", err=True)


@click.command()
@click.argument("spec", metavar="SPEC")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder; default build/<name>/. Must be new, empty or an earlier build's "
    "folder (which is replaced whole, only when the build succeeds).",
)
@click.option(
    "--seed", type=click.IntRange(min=0, max=2**64 - 1), default=0, show_default=True,
    help="Seed of the random initialization, 0 to 2**64-1 (torch's range; ignored with "
    "--weights).",
)
@click.option(
    "--weights",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A .safetensors or .pt/.pth state_dict to load instead of random weights.",
)
def build(spec: str, out: Path | None, seed: int, weights: Path | None) -> None:
    """Run the whole pipeline on SPEC (a file or built-in name): load, elaborate, check,
    render, cost, compile, export.

    Writes spec.resolved.yaml, graph.json, diagram.dot, diagram.svg, summary.md,
    model.safetensors, model.pt2 and manifest.json into the output folder, which appears
    complete or not at all. Progress goes to stderr, one line a step; the closing line
    (params, MACs, folder) to stdout.

    \b
    Examples:
      resnet-spec build resnet50
      resnet-spec build specs/cifar_resnet20.yaml --out build/c20 --seed 1
      resnet-spec build resnet18 --weights resnet18-f37072fd.safetensors
    """
    from resnet_spec.pipeline import run_build

    result = run_build(spec, out, seed=seed, weights=weights, on_step=_progress, on_note=_note)
    total = sum(result.seconds.values())
    click.echo(
        f"built {result.name}: {units.count(result.params)} params, "
        f"{units.count(result.macs)} MACs -> {result.out}/ "
        f"({len(result.files) + 1} files, {total:.1f} s)"
    )
