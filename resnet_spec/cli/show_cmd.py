"""`resnet-spec show SPEC`: the resolved spec (extends merged, defaults written out), as YAML
that reads back as the same spec, or as JSON; torch is never imported."""

from __future__ import annotations

import json
import sys

import click

from resnet_spec.cli.completion import complete_spec
from resnet_spec.cli.loading import load_spec
from resnet_spec.cli.options import set_option


@click.command()
@click.argument("spec", metavar="SPEC", shell_complete=complete_spec)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
@set_option
def show(spec: str, as_json: bool, overrides: tuple[str, ...]) -> None:
    """Print SPEC (a file or a built-in name) resolved: its `extends` chain merged and every
    default written out, as the `spec.resolved.yaml` of a build.

    The YAML is a spec on its own: `resnet-spec validate` accepts it and it reads back as the
    same settings. Only the schema and `extends` are checked here, so a spec whose graph does
    not fit together still shows (`validate` runs the graph checks).

    \b
    Examples:
      resnet-spec show resnet50d
      resnet-spec show my_variant.yaml > my_variant.resolved.yaml
      resnet-spec show resnet50 --json | jq .stages
      resnet-spec show resnet18 --set head.classes=10 --set norm=group
    """
    from resnet_spec.spec.resolved import resolved_dict, resolved_yaml

    loaded = load_spec(spec, overrides)
    if as_json:
        json.dump(resolved_dict(loaded), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        click.echo(resolved_yaml(loaded), nl=False)
