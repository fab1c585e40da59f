"""`resnet-spec infer WEIGHTS`: the spec of a checkpoint, proved by loading the file into it
strictly and running it (`compiler/infer.py` reads the keys)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
import yaml

from resnet_spec.cli.options import note

HEADER = "# inferred by `resnet-spec infer {source}` from the file's keys and shapes\n"


@click.command()
@click.argument("weights", metavar="WEIGHTS", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the spec here (YAML) instead of printing it.")
@click.option("--name", help="The spec's `name` (default: the file's name without suffix).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the spec, what was assumed and the proof as one JSON object.")
def infer(weights: str, output: str | None, name: str | None, as_json: bool) -> None:
    """Write the spec of WEIGHTS (a safetensors or torch state dict of torchvision's, timm's
    or this tool's ResNet family), then prove it: the file loads into the built spec strictly
    and a forward pass runs.

    What the keys say is read: stem, stages and depths, block kinds, widths and groups,
    shortcuts, attention, norm, input channels, classes. What they cannot say (strides, pools,
    dilation, anti-aliasing, dropout, the input size) is the family's convention for the stem
    read; the notes list each assumption, for you to check against the network's source.

    \b
    Examples:
      resnet-spec infer resnet50-0676ba61.pth
      resnet-spec infer model.safetensors -o model.yaml
      resnet-spec infer ckpt.pt --json | jq .assumed
    """
    from resnet_spec import files

    source = Path(weights)
    inferred, text, proof = _infer_and_prove(source, name or _stem_name(source))
    if output is not None:
        files.write_atomic(Path(output), text.encode("utf-8"))
    if as_json:
        json.dump({"spec": inferred.spec, "layout": inferred.layout,
                   "assumed": inferred.assumed, "proof": proof}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif output is None:
        click.echo(text, nl=False)
    for line in _notes(inferred, proof, output):
        note(line)


def _stem_name(path: Path) -> str:
    name = path.name.split(".")[0] or "inferred"
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in name)


def _infer_and_prove(source: Path, name: str) -> tuple[Any, str, dict[str, Any]]:
    """What `infer` read, the spec's YAML text, and the proof: that text, read back as a spec
    file, built with the weights file through `--weights`'s strict load, and run."""
    import torch

    import resnet_spec
    from resnet_spec.compiler.infer import infer as read_spec
    from resnet_spec.compiler.layouts import our_names
    from resnet_spec.compiler.weights import load_state_file

    state = load_state_file(source)
    renamed, layout = our_names(state)
    shapes = {k: tuple(v.shape) for k, v in renamed.items()}
    inferred = read_spec(shapes, name=name, source=str(source), layout=layout)
    text = HEADER.format(source=source.name) + yaml.safe_dump(
        inferred.spec, sort_keys=False, default_flow_style=None, width=100)
    # the proof goes through files, as a user's build would: the text written out is the
    # spec built, and --weights reads the checkpoint again, strictly
    with tempfile.TemporaryDirectory(prefix="resnet-spec-infer-") as folder:
        spec_file = Path(folder) / f"{name}.yaml"
        spec_file.write_text(text, encoding="utf-8")
        model = resnet_spec.build(spec_file, weights=source).eval()
    size = inferred.spec["input"]
    with torch.no_grad():
        result = model(torch.zeros(1, size["channels"], size["height"], size["width"]))
    shape = list(result.shape) if torch.is_tensor(result) else {
        k: list(v.shape) for k, v in result.items()}
    proof = {"keys": len(state), "loaded_strictly": True, "output_shape": shape}
    return inferred, text, proof


def _notes(inferred: Any, proof: dict[str, Any], output: str | None) -> list[str]:
    notes = []
    if inferred.layout:
        notes.append(f"read {inferred.layout} layout, its keys renamed to this tool's")
    notes.append(f"proved: all {proof['keys']} entries load strictly, and a forward pass gives "
                 f"{proof['output_shape']}")
    notes += [f"assumed (the weights do not say): {a}" for a in inferred.assumed]
    if output is not None:
        notes.append(f"wrote {output}")
    return notes
