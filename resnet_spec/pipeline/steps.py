"""The step runner of `build` and `export`: each step told to the hooks as it starts and ends,
timed, and the notes it found told after its line (`Steps`); the notes kept for the manifest
(`Notes`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from resnet_spec.pipeline.options import Hooks

T = TypeVar("T")


class Notes:
    """The lines the user should know of, in order, each told once to the note hook."""

    def __init__(self, hooks: Hooks) -> None:
        self.lines: list[str] = []
        self._hooks = hooks
        self._told = 0

    def add(self, line: str) -> None:
        """Keep `line`, told after the running step's line (not inside it)."""
        if line not in self.lines:  # the `.pt2` step and a target may find the same thing
            self.lines.append(line)

    def announce(self, line: str) -> None:
        """A note told now, before any step (and kept for the manifest like the others)."""
        self.lines.append(line)
        self._hooks.on_note(line)
        self._told = len(self.lines)

    def tell(self) -> None:
        """Tell the note hook the lines kept since it was last told."""
        for line in self.lines[self._told:]:
            self._hooks.on_note(line)
        self._told = len(self.lines)


class Steps:
    """Runs the steps `names`, in that order, one call of `run` each: the step hook hears of
    its start and its end (seconds -1 when it raises), the notes it kept are told after it."""

    def __init__(self, names: tuple[str, ...], hooks: Hooks, notes: Notes) -> None:
        self.names = names
        self.seconds: dict[str, float] = {}
        """Each finished step's seconds, by name."""
        self._hooks = hooks
        self._notes = notes
        self._current = ""

    def run(self, name: str, action: Callable[[], T]) -> T:
        """`action()`'s result, run as the step `name`."""
        index, total = self.names.index(name) + 1, len(self.names)
        self._current = name
        self._hooks.on_step(index, total, name, None)
        start = time.perf_counter()
        try:
            result = action()
        except BaseException:
            self._hooks.on_step(index, total, name, -1.0)
            raise
        self.seconds[name] = time.perf_counter() - start
        self._hooks.on_step(index, total, name, self.seconds[name])
        self._notes.tell()
        return result

    def progress(self, message: str) -> None:
        """Tell the progress hook what the running step is doing now."""
        self._hooks.on_progress(self.names.index(self._current) + 1, len(self.names),
                                self._current, message)
