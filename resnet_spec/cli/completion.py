"""Shell completion of argument values, through click's own machinery (docs/cli.md shows the
lines that turn it on in bash, zsh and fish).

A SPEC completes to the built-in spec names that start with what is typed, and to files: the
first item asks the shell for its own file completion (bash uses it only when no name matched;
zsh and fish offer both). A comma-separated option (`--to onnx,open`) completes its last item.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import click
import click.shell_completion
from click.shell_completion import CompletionItem


def complete_spec(ctx: click.Context, param: click.Parameter, incomplete: str
                  ) -> list[CompletionItem]:
    """Built-in spec names starting with `incomplete`, after the shell's own file completion."""
    from resnet_spec.spec import builtins

    names = [CompletionItem(name, help="built-in spec") for name in builtins.names()
             if name.startswith(incomplete)]
    # bash clears what came before a `file` item, so it goes first
    return [CompletionItem(incomplete, type="file"), *names]


def complete_list(choices: Sequence[str]) -> Callable[..., list[CompletionItem]]:
    """A completer for a comma-separated list of `choices`: completes the item being typed,
    keeping the ones before it and offering each choice once."""
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str
                 ) -> list[CompletionItem]:
        *done, last = incomplete.split(",")
        head = "".join(f"{item}," for item in done)
        return [CompletionItem(head + choice) for choice in choices
                if choice.startswith(last) and choice not in done]

    return complete


class FishComplete(click.shell_completion.FishComplete):
    """click's fish completion, but splitting each reply at its first comma only: click's
    script splits at every comma, so `onnx,openvino` (a `--to` list) would reach fish as
    `onnx`."""

    source_template = click.shell_completion.FishComplete.source_template.replace(
        'string split ","', 'string split -m 1 ","')


def register_shells() -> None:
    """Make `_RESNET_SPEC_COMPLETE=fish_*` use `FishComplete` (before click reads the variable)."""
    click.shell_completion.add_completion_class(FishComplete, "fish")
