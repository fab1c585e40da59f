"""Installing plugin packages for a test, without the network and without touching the shared
environment: each goes into a folder of its own (a "site") that a test puts on `sys.path` (in
this process) or on `PYTHONPATH` (in a subprocess), the way pip makes a package discoverable:
its modules beside a `<dist>-<version>.dist-info/` with `METADATA` and `entry_points.txt`."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from resnet_spec import plugins

REPO = Path(__file__).resolve().parent.parent
TINYPLUG = Path(__file__).resolve().parent / "plugins" / "resnet_spec_tinyplug"


def pip_install(package: Path, site: Path, scratch: Path) -> Path:
    """`pip install --target site` of the package folder `package` (a copy of it, so that the
    build leaves nothing in the repository), offline and with no dependencies; returns `site`."""
    source = scratch / package.name
    shutil.copytree(package, source)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--disable-pip-version-check",
                    "--target", str(site), str(source)],
                   check=True, capture_output=True, text=True, timeout=300)
    return site


def write_dist(site: Path, name: str, version: str, entry_points: dict[str, dict[str, str]],
               modules: dict[str, str]) -> Path:
    """A hand-made installed distribution: `modules` (file name -> source) and its dist-info
    declaring `entry_points` (group -> name -> `module:attribute`)."""
    site.mkdir(parents=True, exist_ok=True)
    for file, text in modules.items():
        (site / file).write_text(text, encoding="utf-8")
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                                   encoding="utf-8")
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{n} = {v}\n" for n, v in names.items()) + "\n"
        for group, names in entry_points.items()), encoding="utf-8")
    (info / "RECORD").write_text("", encoding="utf-8")
    importlib.invalidate_caches()
    return site


@contextmanager
def installed(*sites: Path) -> Iterator[None]:
    """The packages in `sites` importable and their entry points read, in this process; after,
    their modules forgotten and the registries back to what the environment has."""
    for site in sites:
        sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    plugins.reset()
    try:
        yield
    finally:
        for site in sites:
            sys.path.remove(str(site))
            for name, module in list(sys.modules.items()):
                if str(getattr(module, "__file__", None) or "").startswith(str(site)):
                    del sys.modules[name]
        importlib.invalidate_caches()
        plugins.reset()


def environment(*sites: Path) -> dict[str, str]:
    """The environment of a subprocess that sees the packages in `sites` and this checkout."""
    path = [str(s) for s in sites] + [str(REPO)]
    old = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path + ([old] if old else []))}
