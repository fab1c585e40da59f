"""`gpu_check.py`'s results: one JSON document, rewritten whole after every row (so a run cut
short still leaves what it measured), and the table printed at the end.

No torch here: the document is plain data, and `table(document)` prints any saved one again
(`python benchmarks/gpu_report.py gpu_check.json`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

PUBLISHED = {
    "what": "MLPerf Inference v3.1, ResNet-50, offline scenario, one NVIDIA H100 (TensorRT)",
    "samples_per_s": 88526,
}
"""The published figure the best images/s is set beside, for context (not a like-for-like
comparison: MLPerf's submissions run their own tuned engines, at int8)."""

TARGET = {
    "statement": "bf16 + torch.compile + CUDA graphs at batch 256 >= 5x torchvision eager fp32 "
                 "at batch 256 on the same GPU",
    "variant": "compile-bf16",
    "batch": 256,
    "ratio": 5.0,
}


class Report:
    """The JSON document of one run, saved to `path` on every `save()`."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        self.document: dict[str, Any] = {**header, "variants": []}

    def row(self, name: str, what: str, batches: list[int]) -> dict[str, Any]:
        """A new variant's row, every batch not yet run."""
        row: dict[str, Any] = {
            "name": name, "what": what, "status": "pending", "error": None, "setup_s": None,
            "accuracy": None,
            "batches": {str(b): {"status": "pending", "error": None} for b in batches},
        }
        self.document["variants"].append(row)
        return row

    def save(self) -> None:
        """Write the document whole: to a temporary name, then renamed over the file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(self.document, indent=1) + "\n")
        os.replace(temporary, self.path)

    def finish(self, elapsed_s: float) -> None:
        """Ratios against the anchor, the best images/s, the target's verdict; then save."""
        doc = self.document
        doc["elapsed_s"] = round(elapsed_s, 1)
        anchor = _by_name(doc, doc["anchor"]["variant"])
        for row in doc["variants"]:
            for batch, cell in row["batches"].items():
                base = anchor["batches"][batch] if anchor else None
                if cell["status"] == "ok" and base and base["status"] == "ok":
                    cell["ratio_vs_anchor"] = round(cell["images_per_s"]
                                                    / base["images_per_s"], 3)
        doc["best"] = best(doc)
        doc["published"] = {**PUBLISHED, "best_over_published": (
            round(doc["best"]["images_per_s"] / PUBLISHED["samples_per_s"], 4)
            if doc["best"] else None)}
        doc["target"] = verdict(doc)
        self.save()


def _by_name(doc: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((row for row in doc["variants"] if row["name"] == name), None)


def best(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The variant and batch of the most images per second."""
    cells = [(cell["images_per_s"], row["name"], int(batch))
             for row in doc["variants"] for batch, cell in row["batches"].items()
             if cell["status"] == "ok"]
    if not cells:
        return None
    images, name, batch = max(cells)
    return {"variant": name, "batch": batch, "images_per_s": images}


def verdict(doc: dict[str, Any]) -> dict[str, Any]:
    """The target's ratio and whether it is met; `met` is None where it was not measured or
    the device is not a CUDA GPU (the target is stated for one)."""
    row = _by_name(doc, TARGET["variant"])
    cell = row["batches"].get(str(TARGET["batch"])) if row else None
    result: dict[str, Any] = {**TARGET, "measured": None, "met": None}
    if cell is None:
        result["note"] = (f"not measured: {TARGET['variant']} at batch {TARGET['batch']} "
                          "was not asked for")
    elif "ratio_vs_anchor" not in cell:
        reason = cell.get("error") or cell["status"]
        result["note"] = f"not measured: {reason}"
    else:
        result["measured"] = cell["ratio_vs_anchor"]
        if doc["device"]["type"] != "cuda":
            result["note"] = "not judged: the target is for a CUDA GPU"
        else:
            result["met"] = cell["ratio_vs_anchor"] >= TARGET["ratio"]
    return result


def table(doc: dict[str, Any]) -> str:
    """The document as the text table `gpu_check.py` prints."""
    device, versions = doc["device"], doc["versions"]
    if device["type"] == "cuda":
        software = (f"torch {versions['torch']}, CUDA {versions['cuda']}, "
                    f"cuDNN {versions['cudnn']}")
    else:
        software = f"torch {versions['torch']}, {device['threads']} threads"
    lines = [
        f"{doc['spec']} on {device['name']} ({device['type']}); {software}, "
        f"Python {versions['python']}",
        f"anchor: {doc['anchor']['what']}; {doc['timing']}",
        f"accuracy: against {doc['reference']} on a fixed batch of {doc['check_batch']}",
        "",
    ]
    batches = doc["batches"]
    head = f"{'variant':<21} {'max|err|':>9} {'rel':>8} {'top-1':>7}"
    head += "".join(f"  {'batch ' + str(b):>18}" for b in batches)
    lines += [head, "-" * len(head)]
    for row in doc["variants"]:
        text = f"{row['name']:<21} " + _accuracy(row)
        if row["status"] != "ok":
            lines.append(text + f"  {row['status']}: {row['error']}")
            continue
        failed = [row["error"]] if row["error"] else []  # the accuracy check's
        for batch in batches:
            cell = row["batches"][str(batch)]
            text += f"  {_cell(cell):>18}"
            if cell["status"] != "ok":
                failed.append(f"batch {batch} {cell['status']}: {cell['error']}")
        lines.append(text)
        lines += [f"{'':<21}   {line}" for line in failed]
    lines.append("cells: images per second, and the ratio to the anchor at the same batch")
    lines.append("")
    lines += _summary(doc)
    return "\n".join(lines)


def _accuracy(row: dict[str, Any]) -> str:
    acc = row["accuracy"]
    if not acc:
        return f"{'-':>9} {'-':>8} {'-':>7}"
    top1 = f"{acc['top1_agree']}/{acc['of']}" if acc.get("top1_agree") is not None else "-"
    return f"{acc['max_abs_error']:>9.2e} {acc['relative_error']:>8.1e} {top1:>7}"


def _cell(cell: dict[str, Any]) -> str:
    if cell["status"] != "ok":
        return cell["status"]
    ratio = cell.get("ratio_vs_anchor")
    return f"{_images(cell['images_per_s'])}/s " + (f"{ratio:5.2f}x" if ratio is not None
                                                     else "  -  ")


def _images(per_second: float) -> str:
    """Whole images per second, or three digits below 100 (a CPU's 0.42)."""
    return f"{per_second:,.0f}" if per_second >= 100 else f"{per_second:.3g}"


def _summary(doc: dict[str, Any]) -> list[str]:
    lines = []
    top, published = doc.get("best"), doc.get("published")
    if top and published:
        lines.append(f"best: {top['variant']} at batch {top['batch']}: "
                     f"{_images(top['images_per_s'])} images/s; published for context: "
                     f"{published['what']}: {published['samples_per_s']:,} samples/s "
                     f"({published['best_over_published']:.2f}x of it)")
    target = doc.get("target")
    if target:
        state = {True: "MET", False: "MISSED", None: "not judged"}[target["met"]]
        measured = (f"{target['measured']:.2f}x" if target["measured"] is not None
                    else "no ratio")
        note = f" ({target['note']})" if target.get("note") else ""
        lines.append(f"target: {target['statement']}: {measured}: {state}{note}")
    if doc.get("stopped_early"):
        lines.append(f"stopped early: {doc['stopped_early']}")
    lines.append(f"written: {doc['out']}; {doc.get('elapsed_s', '?')} s in all")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description="print a saved gpu_check.py run's table")
    parser.add_argument("json", type=Path, help="the file gpu_check.py wrote")
    path = parser.parse_args().json
    try:
        print(table(json.loads(path.read_text())))
    except (OSError, ValueError, KeyError) as err:
        print(f"{path}: not a gpu_check.py result ({type(err).__name__}: {err})",
              file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
