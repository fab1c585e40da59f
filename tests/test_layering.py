"""Module layering: only the command line (and the facade itself) may import the package facade
`resnet_spec/__init__.py`; every other module imports the module it needs."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

FACADE_NAMES = {"build", "elaborate", "load", "__version__", "Graph", "Spec", "SpecError"}
MODULES = sorted([*REPO.joinpath("resnet_spec").rglob("*.py"), *REPO.joinpath("compiler")
                  .rglob("*.py")])
ALLOWED = {REPO / "resnet_spec" / "__init__.py", REPO / "resnet_spec" / "__main__.py"}


def _facade_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name == "resnet_spec"]
        elif isinstance(node, ast.ImportFrom) and node.module == "resnet_spec":
            found += [a.name for a in node.names if a.name in FACADE_NAMES]
    return found


def test_lower_modules_do_not_import_the_facade() -> None:
    lower = [p for p in MODULES if p not in ALLOWED and "cli" not in p.parts]
    assert len(lower) > 20
    offenders = {str(p.relative_to(REPO)): _facade_imports(p) for p in lower}
    assert {k: v for k, v in offenders.items() if v} == {}
