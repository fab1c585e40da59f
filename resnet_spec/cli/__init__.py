"""The `resnet-spec` command line: one module per command, loaded only when that command runs.

Errors of the spec become `file:line:col: message` on stderr and exit 1; usage errors exit 2
(with `--debug` too); a missing capability (no CUDA, no torch-tensorrt) exits 3; output cut
short by a closed pipe exits 141, quietly. `--debug`, anywhere on the line, shows the traceback.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading
import traceback
import warnings
from typing import Any

import click

from resnet_spec.cli import completion, output
from resnet_spec.errors import SpecError
from resnet_spec.plugins import PluginWarning

CONFINE_ENV = "RESNET_SPEC_CONFINE"
"""`resnet_spec.spec.confine.ENV`, named here without importing the loader's modules."""
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_MISSING = 3

# command name -> (module, attribute, one-line help); the module is imported on use only, so
# `validate` never pays for torch, graphviz or rich.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "build": ("resnet_spec.cli.build_cmd", "build", "Run the whole pipeline into a folder."),
    "export": ("resnet_spec.cli.export_cmd", "export",
               "Deployment files: pt2, onnx, openvino, tensorrt, triton."),
    "bench": ("resnet_spec.cli.bench_cmd", "bench", "Inference speed of each backend."),
    "validate": ("resnet_spec.cli.validate_cmd", "validate", "Check specs without building."),
    "show": ("resnet_spec.cli.show_cmd", "show", "Print a spec resolved: extends merged, "
             "defaults written out."),
    "diff": ("resnet_spec.cli.diff_cmd", "diff", "Fields, costs and blocks that differ "
             "between two specs."),
    "render": ("resnet_spec.cli.render_cmd", "render", "Draw a diagram (SVG, PNG or DOT)."),
    "summary": ("resnet_spec.cli.summary_cmd", "summary", "Params, MACs, shapes per stage."),
    "list": ("resnet_spec.cli.list_cmd", "list_specs", "The built-in specs."),
    "sweep": ("resnet_spec.cli.sweep_cmd", "sweep", "Cost a design space around a spec; its "
              "Pareto front, measured."),
    "infer": ("resnet_spec.cli.infer_cmd", "infer", "The spec of a checkpoint, proved by "
              "loading it strictly."),
    "schema": ("resnet_spec.cli.schema_cmd", "schema", "Print the JSON Schema of specs."),
}


class CapabilityMissing(click.ClickException):
    """A requested feature needs something this machine lacks (exit 3)."""

    exit_code = EXIT_MISSING


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised where the program is, so that cleanup runs as for Ctrl-C."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated(signum)


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as err:  # past click, which would turn it into a plain exit 1
            raise output.OutputClosed from err

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, _, help_text) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="resnet-spec", prog_name="resnet-spec")
@click.option("--debug", is_flag=True, help="Show tracebacks (accepted anywhere on the line).")
@click.option("--confine", is_flag=True, envvar="RESNET_SPEC_CONFINE",
              help="For specs from others: `extends` may name only built-ins and files below "
              "the named spec's folder (also RESNET_SPEC_CONFINE=1).")
def cli(debug: bool, confine: bool) -> None:
    """Compile YAML specs of ResNet-family networks into checked graphs, diagrams, cost
    summaries and torch modules.

    SPEC is a spec file or a built-in spec's name (see `resnet-spec list`).

    \b
    Examples:
      resnet-spec validate specs/*.yaml
      resnet-spec build resnet152 --out build/r152
      resnet-spec render resnet50 --level blocks -o r50.svg
      resnet-spec --confine validate untrusted/spec.yaml
    """
    if confine:  # through the environment, so that `bench`'s worker processes confine too
        os.environ[CONFINE_ENV] = "1"


def report(error: SpecError) -> None:
    """Print a spec error as `file:line:col: message` lines on stderr."""
    click.echo(output.error_text(str(error)), err=True, color=output.color_choice())


def main(argv: list[str] | None = None) -> Any:
    """Entry point: run the CLI, turning known errors into one-line messages and exit codes."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    confined_before = os.environ.get(CONFINE_ENV)
    handlers = _handle_termination()
    output.tolerate_encoding()
    completion.register_shells()
    shown_before = warnings.showwarning
    warnings.showwarning = _one_line_plugin_warnings(shown_before)
    try:
        return cli.main(
            args=args, prog_name="resnet-spec", standalone_mode=False, obj={"debug": debug},
            color=output.color_choice(),
        )
    except click.exceptions.Exit as stop:
        sys.exit(stop.exit_code)
    except click.ClickException as err:
        if debug and not isinstance(err, click.UsageError):
            traceback.print_exc()
        err.show()
        sys.exit(err.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except SpecError as err:
        if debug:
            raise
        report(err)
        sys.exit(EXIT_INVALID)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except output.OutputClosed:
        output.silence_stdout()
        sys.exit(output.EXIT_BROKEN_PIPE)
    except Terminated as stop:
        click.echo("terminated", err=True)
        sys.exit(128 + stop.args[0])
    except Exception as err:
        if debug:
            raise
        click.echo(f"internal error: {type(err).__name__}: {err} (run with --debug for the "
                   "traceback, and please report it)", err=True)
        sys.exit(EXIT_INVALID)
    finally:
        warnings.showwarning = shown_before
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        _restore_env(CONFINE_ENV, confined_before)


def _one_line_plugin_warnings(show: Any) -> Any:
    """`warnings.showwarning` printing a refused plugin as one `warning:` line (no source
    line), the others as `show` does."""
    def shown(message: Warning | str, category: type[Warning], *args: Any, **kw: Any) -> None:
        if issubclass(category, PluginWarning):
            output.warn(f"warning: {message}")
        else:
            show(message, category, *args, **kw)
    return shown


def _restore_env(name: str, value: str | None) -> None:
    """Put an environment variable back as it was (`main` runs in-process in tests too)."""
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _handle_termination() -> dict[int, Any]:
    """Turn SIGTERM and SIGHUP into `Terminated` while the command runs (the main thread
    only: elsewhere Python allows no handlers); returns the handlers to put back."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    signals = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    return {signum: signal.signal(signum, _terminate) for signum in signals}
