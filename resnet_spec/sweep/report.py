"""What a sweep writes: `sweep.csv` and `sweep.json` (every variant's overrides and figures),
the front's specs (`front/NNNNN.yaml`, each valid on its own), and two plots drawn as DOT with
pinned positions (so graphviz or the graphviz-pure wheel lays them out as drawn): `pareto`
(capacity against cost, the front marked and labelled) and `edf` (the empirical distribution
of each cost figure over the variants that satisfy the constraints, as pycls draws its
design spaces)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resnet_spec import number_format as units
from resnet_spec.files import write_atomic
from resnet_spec.sweep.costing import FIGURES, Costed

PLOT_POINTS = 1500
"""At most this many points drawn besides the front (evenly chosen): the plot stays readable
and its layout quick."""
WIDTH_IN, HEIGHT_IN = 8.0, 5.0
EDF_STEPS = 120
EDF_COLOURS = {"params": "#1f77b4", "macs": "#d62728", "activations": "#2ca02c"}


@dataclass
class Row:
    """One variant as the report has it."""

    costed: Costed
    within: bool
    front: bool = False
    latency_ms: float | None = None
    measure_error: str | None = None
    measured_front: bool = False
    """On the front of the measured variants (capacity against latency)."""
    spec_file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        c = self.costed
        return {"index": c.variant.index, "overrides": list(c.variant.overrides),
                "params": c.params, "macs": c.macs, "activations": c.activations,
                "error": c.error, "within": self.within, "front": self.front,
                "latency_ms": self.latency_ms, "measure_error": self.measure_error,
                "measured_front": self.measured_front, "spec_file": self.spec_file}


@dataclass
class Report:
    """A sweep's results and how they were made (`sweep.json`)."""

    spec: str
    space: dict[str, Any]
    where: list[str]
    capacity: str
    shards: list[str]
    rows: list[Row]
    measured: dict[str, Any] | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "space": self.space, "where": self.where,
                "capacity": self.capacity, "shards": self.shards, "measured": self.measured,
                "seconds": round(self.seconds, 3),
                "counts": {"variants": len(self.rows),
                           "valid": sum(r.costed.valid for r in self.rows),
                           "within": sum(r.within for r in self.rows),
                           "front": sum(r.front for r in self.rows)},
                "variants": [r.as_dict() for r in self.rows]}


CSV_FIELDS = ("index", "overrides", "params", "macs", "activations", "within", "front",
              "latency_ms", "error", "spec_file")


def csv_text(rows: Sequence[Row]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        data = row.as_dict()
        data["overrides"] = " ".join(data["overrides"])
        writer.writerow(data)
    return out.getvalue()


def write_tables(report: Report, folder: Path) -> None:
    write_atomic(folder / "sweep.csv", csv_text(report.rows).encode("utf-8"))
    write_atomic(folder / "sweep.json",
                 (json.dumps(report.as_dict(), indent=1) + "\n").encode("utf-8"))


# -- plots ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Axis:
    """A plot axis: the values' range, log-scaled where they span more than a factor of 20."""

    label: str
    low: float
    high: float

    @property
    def log(self) -> bool:
        return self.low > 0 and self.high / self.low > 20

    def place(self, value: float, length: float) -> float:
        if self.high <= self.low:
            return length / 2
        if self.log:
            span = math.log(self.high) - math.log(self.low)
            return (math.log(max(value, self.low)) - math.log(self.low)) / span * length
        return (value - self.low) / (self.high - self.low) * length

    def ticks(self, count: int = 5) -> list[float]:
        if self.high <= self.low:
            return [self.low]
        if self.log:
            a, b = math.log(self.low), math.log(self.high)
            return [math.exp(a + (b - a) * i / (count - 1)) for i in range(count)]
        return [self.low + (self.high - self.low) * i / (count - 1) for i in range(count)]


def axis(label: str, values: Sequence[float]) -> Axis:
    low, high = min(values), max(values)
    pad = (high - low) * 0.04 or max(abs(high), 1) * 0.04
    if low > 0 and high / low > 20:
        return Axis(label + " (log)", low / 1.15, high * 1.15)
    return Axis(label, max(0.0, low - pad) if low >= 0 else low - pad, high + pad)


def _frame(title: str, x: Axis, y: Axis) -> list[str]:
    lines = ["graph plot {", "  layout=neato; splines=false; outputorder=edgesfirst;",
             "  bgcolor=white; pad=0.3;",
             '  node [shape=point, width=0.05, label="", fontname="Helvetica", fontsize=9];',
             '  edge [color="#444444"];',
             f'  title [shape=plaintext, fontsize=13, label="{_q(title)}", '
             f'pos="{WIDTH_IN / 2:.3f},{HEIGHT_IN + 0.45:.3f}!"];',
             f'  o [pos="0,0!", width=0.01]; xe [pos="{WIDTH_IN:.3f},0!", width=0.01]; '
             f'ye [pos="0,{HEIGHT_IN:.3f}!", width=0.01];',
             "  o -- xe; o -- ye;",
             f'  xl [shape=plaintext, fontsize=11, label="{_q(x.label)}", '
             f'pos="{WIDTH_IN / 2:.3f},-0.55!"];',
             f'  yl [shape=plaintext, fontsize=11, label="{_q(y.label)}", '
             f'pos="-0.2,{HEIGHT_IN + 0.2:.3f}!"];']
    for i, value in enumerate(x.ticks()):
        px = x.place(value, WIDTH_IN)
        lines.append(f'  xt{i} [shape=plaintext, label="{units.count(value)}", '
                     f'pos="{px:.3f},-0.22!"];')
    for i, value in enumerate(y.ticks()):
        py = y.place(value, HEIGHT_IN)
        lines.append(f'  yt{i} [shape=plaintext, label="{_tick(value)}", '
                     f'pos="-0.45,{py:.3f}!"];')
    return lines


def _tick(value: float) -> str:
    return f"{value:.3g}" if value < 1000 else units.count(value)


def _q(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def pareto_dot(rows: Sequence[Row], capacity: str, cost: str, title: str) -> str:
    """Capacity (x) against cost (y) for every row that has both, the front in red, each
    front point labelled with its number and figures."""
    measured = cost == "latency_ms"

    def cost_of(row: Row) -> float | None:
        return row.latency_ms if measured else (
            float(row.costed.figure(cost)) if row.within else None)

    def on_front(row: Row) -> bool:
        return row.measured_front if measured else row.front

    shown = [r for r in rows if r.within and cost_of(r) is not None]
    if not shown:
        raise ValueError("no variant to plot")
    x = axis(capacity if capacity != "macs" else "MACs", [r.costed.figure(capacity)
                                                          for r in shown])
    y = axis("latency (ms)" if cost == "latency_ms" else cost,
             [float(cost_of(r)) for r in shown])  # type: ignore[arg-type]
    lines = _frame(title, x, y)
    others = [r for r in shown if not on_front(r)]
    step = max(1, math.ceil(len(others) / PLOT_POINTS))
    for row in others[::step]:
        lines.append(_point(row, x, y, float(cost_of(row)), capacity,  # type: ignore[arg-type]
                            front=False))
    front = sorted((r for r in shown if on_front(r)), key=lambda r: r.costed.figure(capacity))
    for row in front:
        lines.append(_point(row, x, y, float(cost_of(row)), capacity,  # type: ignore[arg-type]
                            front=True))
    for a, b in itertools.pairwise(front):
        lines.append(f'  v{a.costed.variant.index} -- v{b.costed.variant.index} '
                     '[color="#d62728"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _point(row: Row, x: Axis, y: Axis, cost: float, capacity: str, *, front: bool) -> str:
    px, py = x.place(row.costed.figure(capacity), WIDTH_IN), y.place(cost, HEIGHT_IN)
    name = f"v{row.costed.variant.index}"
    if not front:
        return f'  {name} [pos="{px:.3f},{py:.3f}!", color="#9a9a9a", width=0.04];'
    label = f"#{row.costed.variant.index} {units.count(row.costed.figure(capacity))}"
    return (f'  {name} [pos="{px:.3f},{py:.3f}!", color="#d62728", width=0.08, '
            f'xlabel="{label}", fontcolor="#d62728"];')


def edf_dot(rows: Sequence[Row], title: str) -> str:
    """The empirical distribution function of each figure over the rows within the
    constraints: the share of variants at or below each value, one line per figure."""
    within = [r for r in rows if r.within]
    if not within:
        raise ValueError("no variant to plot")
    values = {f: sorted(float(r.costed.figure(f)) for r in within) for f in FIGURES}
    x = axis("count", [v for vs in values.values() for v in vs if v > 0] or [1.0])
    y = Axis("share of variants", 0.0, 1.0)
    lines = _frame(title, x, y)
    for n, (figure, sorted_values) in enumerate(values.items()):
        colour = EDF_COLOURS[figure]
        points = []
        total = len(sorted_values)
        for i in range(EDF_STEPS + 1):
            k = min(total - 1, round(i / EDF_STEPS * (total - 1)))
            points.append((sorted_values[k], (k + 1) / total))
        names = []
        for i, (value, share) in enumerate(points):
            name = f"{figure}{i}"
            names.append(name)
            lines.append(f'  {name} [pos="{x.place(value, WIDTH_IN):.3f},'
                         f'{y.place(share, HEIGHT_IN):.3f}!", width=0.01, color="{colour}"];')
        lines += [f'  {a} -- {b} [color="{colour}", penwidth=1.6];'
                  for a, b in itertools.pairwise(names)]
        lines.append(f'  key{n} [shape=plaintext, fontcolor="{colour}", fontsize=11, '
                     f'label="{figure}", pos="{WIDTH_IN + 0.6:.3f},{HEIGHT_IN - 0.3 * n:.3f}!"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_plot(dot: str, folder: Path, stem: str) -> list[Path]:
    """`stem.dot`, `.svg` and `.png` in `folder`; the pictures only where a layout program
    runs (the DOT is always written)."""
    from resnet_spec.render.engine import render

    written = [folder / f"{stem}.dot"]
    write_atomic(written[0], dot.encode("utf-8"))
    for fmt in ("svg", "png"):
        write_atomic(folder / f"{stem}.{fmt}", render(dot, fmt))
        written.append(folder / f"{stem}.{fmt}")
    return written
