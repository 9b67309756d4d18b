"""``bot retrain``'s progress: a bar on a terminal, a line every tenth of the steps elsewhere."""

from __future__ import annotations

import io

from bot.learning.progress import RoundProgress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_without_a_terminal_progress_is_a_line_every_tenth_of_the_steps() -> None:
    stream = io.StringIO()
    progress = RoundProgress(stream)
    progress.message("building data")
    for step in range(1, 41):
        progress.step(step, 40)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "building data"
    assert lines[1:] == [
        f"training: step {n}/40 ({n / 40:.0%})" for n in (1, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40)
    ]
    assert "\r" not in stream.getvalue()


def test_on_a_terminal_training_steps_draw_one_bar_that_messages_interrupt() -> None:
    stream = Terminal()
    progress = RoundProgress(stream)
    for step in range(1, 11):
        progress.step(step, 20)
    progress.message("epoch 1/2: loss 0.7")
    for step in range(11, 21):
        progress.step(step, 20)
    output = stream.getvalue()
    assert "training" in output and "20/20" in output
    assert "\r\033[Kepoch 1/2: loss 0.7\n" in output
    assert "training: step" not in output
