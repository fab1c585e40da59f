"""`resnet-spec schema`: the JSON Schema of the spec language (docs/spec.schema.json)."""

from __future__ import annotations

import json

import click


def schema_text() -> str:
    """The schema as committed in docs/spec.schema.json (sorted keys, two-space indent)."""
    from resnet_spec.spec.schema import json_schema

    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@click.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file.")
def schema(output: str | None) -> None:
    """Print the JSON Schema of specs, for editors (yaml-language-server) and tools."""
    text = schema_text()
    if output:
        try:
            with open(output, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as err:
            raise click.FileError(output, err.strerror) from None
    else:
        click.echo(text, nl=False)
