"""`resnet-spec sweep SPEC`: a design space around SPEC costed statically (no torch), its
Pareto front optionally measured (`resnet_spec/sweep/`)."""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from resnet_spec.cli.bench_cmd import BACKENDS
from resnet_spec.cli.completion import complete_spec

CAPACITIES = ("macs", "params")


@click.command()
@click.argument("spec", metavar="SPEC", shell_complete=complete_spec)
@click.option("--grid", "grids", multiple=True, metavar="PATH=V1,V2,...",
              help="Values for a `--set` path; repeat for more paths (every combination).")
@click.option("--space", type=click.Choice(["regnet"]),
              help="Sample a design space instead: `regnet` (pycls's RegNet ranges and "
              "distributions; SPEC must have `regnet:`).")
@click.option("--samples", type=click.IntRange(min=1, max=1_000_000), default=100,
              show_default=True, help="Variants --space draws.")
@click.option("--seed", type=int, default=0, show_default=True, help="--space's seed.")
@click.option("--where", "wheres", multiple=True, metavar="FIGURE<=N",
              help="A constraint on params, macs or activations, e.g. 'params<=30M' "
              "(K, M, G, T); repeatable.")
@click.option("--capacity", type=click.Choice(CAPACITIES), default="macs", show_default=True,
              help="What the front maximizes (against activations, or measured latency).")
@click.option("--measure", type=click.Choice(BACKENDS), metavar="BACKEND",
              help="Time the front's variants on this bench backend, each in its own "
              "processes.")
@click.option("--batch", type=click.IntRange(min=1, max=4096), default=1, show_default=True,
              help="--measure's batch size.")
@click.option("--top", type=click.IntRange(min=1), default=8, show_default=True,
              help="--measure times at most this many front variants, spread along it.")
@click.option("--runs", type=click.IntRange(min=1), default=10, show_default=True,
              help="--measure's timed runs per variant (the median is used).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="--measure's threads (default: the usable cores).")
@click.option("--shard", metavar="I/N", help="Cost only the variants numbered I modulo N "
              "(0-based), for spreading a sweep over machines; --merge joins the parts.")
@click.option("--merge", "merges", multiple=True, type=click.Path(file_okay=False),
              metavar="DIR", help="Join the shards' output folders instead of costing.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes that cost variants (default: the usable cores).")
@click.option("-o", "--out", type=click.Path(file_okay=False), metavar="DIR",
              help="Write sweep.csv, sweep.json, the front's specs (front/) and the plots "
              "(pareto, edf: .svg, .png, .dot) here.")
@click.option("--json", "as_json", is_flag=True, help="Print sweep.json's content on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
def sweep(spec: str, grids: tuple[str, ...], space: str | None, samples: int, seed: int,
          wheres: tuple[str, ...], capacity: str, measure: str | None, batch: int, top: int,
          runs: int, threads: int | None, shard: str | None, merges: tuple[str, ...],
          workers: int | None, out: str | None, as_json: bool, quiet: bool) -> None:
    """Cost every variant of a design space around SPEC without torch (params, MACs,
    activations: what `summary` says), keep those that meet --where, and find the Pareto
    front: the variants with the most capacity (--capacity) for their activations. With
    --measure, the front's variants are exported and timed on a bench backend, and the front
    is drawn again against measured latency.

    The space is a grid (--grid PATH=V1,V2,..., any `--set` path, every combination) or a
    sampled design space (--space regnet --samples N --seed S). Variants are numbered;
    --shard I/N costs a reproducible part, and --merge joins the parts' output folders.

    \b
    Examples:
      resnet-spec sweep resnet50 --grid stages.2.depth=4,6,8 --grid block.groups=1,32 \\
          --grid block.base_width=4,64 -o sweep50
      resnet-spec sweep regnetx_002 --space regnet --samples 10000 --where 'macs<=800M' -o rx
      resnet-spec sweep regnety_016 --space regnet --samples 500 --where 'params<=12M' \\
          --measure onnxruntime --top 5 -o ry
      resnet-spec sweep regnetx_002 --space regnet --samples 4000 --shard 0/2 -o part0
      resnet-spec sweep regnetx_002 --merge part0 --merge part1 -o whole
    """
    from resnet_spec.sweep.space import SpaceError

    started = time.monotonic()
    try:
        report = (_merged(spec, merges, wheres, capacity) if merges else
                  _costed(spec, grids, space, samples, seed, wheres, capacity, shard,
                          workers, quiet))
    except SpaceError as err:
        raise click.UsageError(str(err)) from None
    if report.rows and not any(r.costed.valid for r in report.rows):
        # the same mistake in every variant (a misspelt --grid path): say it once, write nothing
        raise click.ClickException(f"no variant is a valid network; variant 0: "
                                   f"{report.rows[0].costed.error}")
    folder = Path(out) if out else None
    if measure:
        _measure(report, measure, batch, top, runs, threads, folder, quiet)
    report.seconds = time.monotonic() - started
    if folder is not None:
        _write(report, folder, quiet)
    if as_json:
        json.dump(report.as_dict(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        click.echo(_table(report))


def _costed(spec: str, grids: tuple[str, ...], space: str | None, samples: int, seed: int,
            wheres: tuple[str, ...], capacity: str, shard: str | None, workers: int | None,
            quiet: bool) -> Any:
    from resnet_spec.cli.loading import load_spec
    from resnet_spec.sweep import space as spaces
    from resnet_spec.sweep.costing import cost_all
    from resnet_spec.sweep.where import parse_where

    constraints = parse_where(wheres)
    part, parts = spaces.parse_shard(shard)
    base = load_spec(spec)  # a bad spec is one located error before any worker starts
    if space == "regnet":
        if grids:
            raise spaces.SpaceError("--space and --grid: choose one")
        if base.regnet is None:
            raise spaces.SpaceError(f"--space regnet samples the `regnet:` fields, and {spec} "
                                    "has none: start from a RegNet spec (regnetx_002, "
                                    "regnety_016)")
        variants, total = spaces.regnet_variants(samples, seed), samples
        described: dict[str, Any] = {"kind": "regnet", "samples": samples, "seed": seed}
    elif grids:
        grid = spaces.parse_grid(grids)
        variants, total = spaces.grid_variants(grid), spaces.grid_size(grid)
        described = {"kind": "grid", "grid": {path: values for path, values in grid}}
    else:
        raise spaces.SpaceError("name the space: --grid PATH=V1,V2,... or --space regnet")
    chosen = spaces.shard(variants, part, parts)
    count = len(range(part, total, parts))
    bar = _Bar(count, quiet)
    costed = cost_all(spec, chosen, workers=workers, on_done=bar.advance)
    bar.close()
    return _report(spec, described, constraints, capacity, [f"{part}/{parts}"], costed)


def _report(spec: str, described: dict[str, Any], constraints: list[Any], capacity: str,
            shards: list[str], costed: list[Any]) -> Any:
    from resnet_spec.sweep.front import pareto_front
    from resnet_spec.sweep.report import Report, Row
    from resnet_spec.sweep.where import within

    rows = [Row(c, within(c, constraints)) for c in costed]
    for row in pareto_front([r for r in rows if r.within],
                            capacity=lambda r: r.costed.figure(capacity),
                            cost=lambda r: r.costed.figure("activations")):
        row.front = True
    return Report(spec, described, [str(c) for c in constraints], capacity, shards, rows)


def _merged(spec: str, folders: tuple[str, ...], wheres: tuple[str, ...], capacity: str
            ) -> Any:
    from resnet_spec.sweep.costing import Costed
    from resnet_spec.sweep.space import SpaceError, Variant
    from resnet_spec.sweep.where import parse_where

    parts = []
    for folder in folders:
        path = Path(folder) / "sweep.json"
        try:
            parts.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as err:
            raise SpaceError(f"--merge {folder}: cannot read {path}: {err}") from None
    first = parts[0]
    for folder, part in zip(folders, parts, strict=True):
        if (part["spec"], part["space"]) != (first["spec"], first["space"]):
            raise SpaceError(f"--merge {folder}: a shard of another sweep ({part['spec']}, "
                             f"{part['space']['kind']}) than {folders[0]}'s")
    shards = [s for part in parts for s in part["shards"]]
    seen: dict[int, Any] = {}
    for part in parts:
        for v in part["variants"]:
            seen.setdefault(v["index"], v)
    costed = [Costed(Variant(v["index"], tuple(v["overrides"])), v["params"], v["macs"],
                     v["activations"], v["error"]) for _, v in sorted(seen.items())]
    if spec != first["spec"]:
        raise SpaceError(f"--merge: the shards are a sweep of {first['spec']}, not {spec}")
    constraints = parse_where(wheres) if wheres else parse_where(first["where"])
    return _report(spec, first["space"], constraints, capacity, shards, costed)


def _measure(report: Any, backend: str, batch: int, top: int, runs: int,
             threads: int | None, folder: Path | None, quiet: bool) -> None:
    from resnet_spec.cli.bench_cmd import time_spec
    from resnet_spec.cores import usable_cores
    from resnet_spec.sweep.costing import BaseSpec
    from resnet_spec.sweep.front import pareto_front, spread

    front = [r for r in report.rows if r.front]
    chosen = spread(sorted(front, key=lambda r: r.costed.figure(report.capacity)), top)
    threads = threads or usable_cores()
    base = BaseSpec(report.spec)
    with _spec_folder(folder) as specs:
        for n, row in enumerate(chosen, 1):
            path = _front_spec(base, report.spec, row, specs)
            if not quiet:
                click.echo(f"measuring {n}/{len(chosen)}: variant {row.costed.variant.index} "
                           f"on {backend} ...", err=True)
            result = time_spec(str(path), backend, batch, threads, runs, warmup=2)
            if result["status"] == "ok":
                row.latency_ms = result["median_ms"]
            else:
                row.measure_error = result["reason"]
            if folder is None:  # a temporary file, gone after this
                row.spec_file = None
    measured = [r for r in chosen if r.latency_ms is not None]
    for row in pareto_front(measured, capacity=lambda r: r.costed.figure(report.capacity),
                            cost=lambda r: r.latency_ms):
        row.measured_front = True
    report.measured = {"backend": backend, "batch": batch, "runs": runs, "threads": threads,
                       "variants": len(chosen), "timed": len(measured),
                       "front": [r.costed.variant.index for r in measured
                                 if r.measured_front]}


@contextlib.contextmanager
def _spec_folder(folder: Path | None) -> Iterator[Path]:
    """The folder the front's specs go to: DIR/front, or a temporary one without -o."""
    if folder is not None:
        (folder / "front").mkdir(parents=True, exist_ok=True)
        yield folder / "front"
        return
    with tempfile.TemporaryDirectory(prefix="resnet-spec-sweep-") as temp:
        yield Path(temp)


def _front_spec(base: Any, spec: str, row: Any, folder: Path) -> Path:
    """The variant of `base` (the sweep's `spec`, read once) as a resolved spec file that
    validates on its own."""
    from resnet_spec.files import write_atomic
    from resnet_spec.spec.resolved import resolved_yaml

    loaded = base.variant(row.costed.variant.overrides)
    path = folder / f"{row.costed.variant.index:05d}.yaml"
    note = (f"# variant {row.costed.variant.index} of a sweep of {spec}: "
            f"{' '.join(row.costed.variant.overrides)}\n")
    write_atomic(path, (note + resolved_yaml(loaded)).encode("utf-8"))
    row.spec_file = f"front/{path.name}"
    return path


def _write(report: Any, folder: Path, quiet: bool) -> None:
    from resnet_spec.render.engine import RendererMissing, RenderError
    from resnet_spec.sweep.costing import BaseSpec
    from resnet_spec.sweep.report import edf_dot, pareto_dot, write_plot, write_tables

    front = folder / "front"
    front.mkdir(parents=True, exist_ok=True)
    base = BaseSpec(report.spec)
    for row in report.rows:
        if row.front and row.spec_file is None:
            _front_spec(base, report.spec, row, front)
    written = []
    timed = report.measured and report.measured["timed"]
    cost = "latency_ms" if timed else "activations"
    title = (f"{report.spec}: {report.capacity} against "
             f"{'latency on ' + report.measured['backend'] if timed else 'activations'}")
    try:
        if any(r.within for r in report.rows):
            written += write_plot(pareto_dot(report.rows, report.capacity, cost, title),
                                  folder, "pareto")
            written += write_plot(edf_dot(report.rows, f"{report.spec}: cost EDFs"),
                                  folder, "edf")
    except (RendererMissing, RenderError) as err:
        click.echo(f"warning: the plots were not drawn: {err}", err=True)
    write_tables(report, folder)
    if not quiet:
        click.echo(f"wrote {folder}/sweep.csv, sweep.json, {sum(r.front for r in report.rows)}"
                   f" front specs in front/, {len(written)} plot files", err=True)


def _table(report: Any) -> str:
    from resnet_spec import number_format as units

    data = report.as_dict()["counts"]
    lines = [f"{report.spec}: {data['variants']} variants, {data['valid']} valid, "
             f"{data['within']} within {', '.join(report.where) or 'no constraint'}, "
             f"{data['front']} on the front ({report.capacity} against activations)"
             f" in {report.seconds:.1f} s"]
    timed = bool(report.measured and report.measured["timed"])
    lines.append(f"{'variant':>8} {'params':>9} {'MACs':>9} {'activations':>11}"
                 + (f" {'latency':>10}" if timed else "") + "  overrides")
    for row in sorted((r for r in report.rows if r.front),
                      key=lambda r: r.costed.figure(report.capacity)):
        c = row.costed
        latency = (f" {row.latency_ms:8.2f}ms" if row.latency_ms is not None else
                   f" {'-':>10}") if timed else ""
        lines.append(f"{c.variant.index:>8} {units.count(c.params):>9} "
                     f"{units.count(c.macs):>9} {units.count(c.activations):>11}{latency}  "
                     f"{' '.join(c.variant.overrides)}")
    return "\n".join(lines)


class _Bar:
    """`costing [#####.....] 5,120/10,000 51% 12 s` on stderr: redrawn on a terminal, every
    tenth elsewhere."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.done, self.quiet = total, 0, quiet
        self.started = time.monotonic()
        self.live = sys.stderr.isatty()
        self.shown_tenth = -1

    def advance(self, n: int) -> None:
        self.done += n
        if self.quiet or not self.total:
            return
        tenth = self.done * 10 // self.total
        if not self.live and tenth == self.shown_tenth:
            return
        self.shown_tenth = tenth
        filled = self.done * 30 // self.total
        line = (f"costing [{'#' * filled}{'.' * (30 - filled)}] {self.done:,}/{self.total:,} "
                f"{self.done * 100 // self.total}% {time.monotonic() - self.started:.0f} s")
        click.echo(f"\r{line}\x1b[K" if self.live else line, err=True, nl=not self.live)

    def close(self) -> None:
        if self.live and not self.quiet:
            click.echo("", err=True)
