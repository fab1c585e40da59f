"""The committed JSON Schema and spec reference are what the code generates, and they agree with
the built-in specs and the bad corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import BAD, REPO, SPECS
from pydantic import BaseModel

from resnet_spec.cli.schema_cmd import schema_text
from resnet_spec.spec import reference_doc as reference
from resnet_spec.spec import schema

SCHEMA_FILE = REPO / "docs" / "spec.schema.json"
REFERENCE_FILE = REPO / "docs" / "spec-reference.md"


def test_committed_schema_is_current(run_cli) -> None:
    result = run_cli("schema")
    assert result.code == 0
    assert result.out == schema_text()
    assert SCHEMA_FILE.read_text(encoding="utf-8") == result.out, (
        "docs/spec.schema.json is stale: run `resnet-spec schema -o docs/spec.schema.json`")


def test_schema_output_option(tmp_path: Path, run_cli) -> None:
    out = tmp_path / "s.json"
    assert run_cli("schema", "-o", str(out)).code == 0
    assert json.loads(out.read_text(encoding="utf-8"))["$id"] == schema.SCHEMA_ID


def test_schema_output_to_a_missing_folder_is_a_clear_error(tmp_path: Path, run_cli) -> None:
    result = run_cli("schema", "-o", str(tmp_path / "no" / "s.json"))
    assert result.code == 1
    assert "Could not open file" in result.err and "Traceback" not in result.err


def test_committed_reference_is_current() -> None:
    assert REFERENCE_FILE.read_text(encoding="utf-8") == reference.render(), (
        "docs/spec-reference.md is stale: run `python -m resnet_spec.spec.reference_doc`")


def test_reference_check_flag(tmp_path: Path) -> None:
    stale = tmp_path / "ref.md"
    stale.write_text("old\n", encoding="utf-8")
    assert reference.main(["--check", "-o", str(stale)]) == 1
    assert reference.main(["-o", str(stale)]) == 0
    assert reference.main(["--check", "-o", str(stale)]) == 0


def _models() -> list[type[BaseModel]]:
    return [model for _, model, _ in reference.SECTIONS]


def test_reference_covers_every_model_of_the_schema() -> None:
    defs = schema.json_schema()["$defs"]
    models = {name for name, d in defs.items() if d.get("type") == "object"}
    assert models == {m.__name__ for m in _models()} - {"Spec"}


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.__name__)
def test_every_field_is_described_in_the_reference(model: type[BaseModel]) -> None:
    text = reference.render()
    for name, field in model.model_fields.items():
        assert field.description, f"{model.__name__}.{name} has no description"
        assert f"| `{name}` |" in text


def _validator():  # type: ignore[no-untyped-def]
    jsonschema = pytest.importorskip("jsonschema")
    loaded = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(loaded)
    return jsonschema.Draft202012Validator(loaded)


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.yaml")), ids=lambda p: p.stem)
def test_builtin_files_pass_the_editor_schema(path: Path) -> None:
    """What an editor with yaml-language-server shows: no complaint on a built-in spec file,
    including children that leave `stages` to their parent."""
    errors = [e.message for e in _validator().iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


@pytest.mark.parametrize("name", ["schema_unknown_key", "schema_bad_enum", "schema_out_of_range",
                                  "schema_missing_field", "schema_bad_name_pattern"])
def test_schema_errors_are_also_editor_errors(name: str) -> None:
    document = yaml.safe_load((BAD / f"{name}.yaml").read_text())
    assert list(_validator().iter_errors(document))
