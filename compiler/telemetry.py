"""The runtimes' own usage telemetry, off while this tool exports and benchmarks.

OpenVINO: `import openvino` imports its model converter, which starts the `openvino_telemetry`
package: with no consent file it counts as consent, writes a client id and a usage count under
`~/intel/` (`openvino_ga_cid`, `stats`) and sends events to Google Analytics from a thread.
The converter falls back to a stub of its own when that package cannot be imported, so
`quiet_openvino` makes it unimportable in this process (a `None` entry in `sys.modules`)
before openvino is first imported: nothing is written or sent, and nothing outside the process
changes (no consent file, no environment variable). If openvino was imported earlier in the
process (a user's script), the converter's modules are pointed at that stub instead; what the
import itself wrote stays.

onnxruntime: its wheels carry Microsoft's 1DS telemetry client, which on loading the library
writes a device id and an event store under `~/.cache/Microsoft/DeveloperTools/.onnxruntime/`
(`deviceid`, `onnxruntime.db`) to upload from. The library reads `ORT_DISABLE_TELEMETRY` when
it loads: `quiet_onnxruntime` sets it to 1 in this process's environment before onnxruntime is
first imported (unless the user set it, to either value), and calls
`disable_telemetry_events()` (the event provider's switch) once it is. Imported earlier in the
process, the library has already started its client: only the switch applies.

Beside telemetry, the runtimes log what the user cannot act on (NNCF's progress, torch's C++
extension builder missing a CUDA it is not asked to use): `quiet_logger` shows such a logger's
errors only, while a block runs.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Iterator

_OPENVINO_TELEMETRY = "openvino_telemetry"
_CONVERTER_MODULES = ("openvino.tools.ovc.telemetry_utils", "openvino.tools.ovc.convert_impl",
                      "openvino.tools.ovc.main")
_STUB = "openvino.tools.ovc.telemetry_stub"


ORT_SWITCH = "ORT_DISABLE_TELEMETRY"


def quiet_runtimes() -> None:
    """Turn off what can be turned off, before either runtime is imported if possible."""
    quiet_openvino()
    quiet_onnxruntime(load=False)


def quiet_openvino() -> None:
    """OpenVINO's telemetry off in this process (see the module docstring)."""
    loaded = sys.modules.get(_OPENVINO_TELEMETRY, False)
    if loaded is False:
        sys.modules[_OPENVINO_TELEMETRY] = None  # type: ignore[assignment]  # import fails
        return
    if loaded is None:
        return
    try:
        stub = importlib.import_module(_STUB)
    except ImportError:
        return
    for name in _CONVERTER_MODULES:
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "tm"):
            module.tm = stub


def quiet_onnxruntime(load: bool = True) -> None:
    """onnxruntime's telemetry off: the environment switch for its loading, then (once it is
    imported, or with `load` here) its events switch, where this build has it."""
    os.environ.setdefault(ORT_SWITCH, "1")
    if not load and "onnxruntime" not in sys.modules:
        return
    import onnxruntime

    disable = getattr(onnxruntime, "disable_telemetry_events", None)
    if disable is not None:
        disable()


@contextlib.contextmanager
def quiet_logger(name: str) -> Iterator[None]:
    """The logger `name` ("" for the root) shows errors only while the block runs."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
