"""A round's progress for ``bot retrain``: a bar on a terminal, plain lines anywhere else."""

from __future__ import annotations

import sys
from typing import Any, TextIO

import click

# Without a terminal (logs, CI, a pipe), a progress line in each tenth of the training steps.
LINES = 10


class RoundProgress:
    """Messages as lines on ``stream``; training steps as a click progress bar when ``stream``
    is a terminal, else as a line every tenth of the steps."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self._bar: Any = None
        self._shown = 0
        self._lines_shown = -1

    def message(self, text: str) -> None:
        if self._bar is not None:
            # Clear the bar's line; it is drawn again below the message on the next step.
            self.stream.write("\r\033[K")
        click.echo(text, file=self.stream)

    def step(self, done: int, total: int) -> None:
        if not self.interactive:
            line = done * LINES // total
            if line > self._lines_shown:
                click.echo(f"training: step {done}/{total} ({done / total:.0%})", file=self.stream)
                self._lines_shown = line
            return
        if self._bar is None:
            self._bar = click.progressbar(
                length=total, label="training", file=self.stream, show_pos=True, show_eta=True
            )
            self._bar.__enter__()
        self._bar.update(done - self._shown)
        self._shown = done
        if done == total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
