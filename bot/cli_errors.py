"""How every ``bot`` command reports a failure: one line on standard error and an exit code.

Exit code 2: what was typed or configured is wrong (an option, an argument, a ``BOT_`` setting,
a file or adapter version that is not there). Exit code 1: the input was right but the work
failed (the database does not answer, a file has bad rows, a promotion was refused).
``bot --debug`` (or ``BOT_DEBUG=1``) prints the traceback above the line.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

import click

USAGE_EXIT_CODE = 2
DEBUG_KEY = "bot.debug"
DEBUG_HINT = "run `bot --debug ...` to see the traceback"


class SettingError(click.ClickException):
    """A ``BOT_`` setting is wrong: a usage error, shown without the usage text (the command line
    itself is fine)."""

    exit_code = USAGE_EXIT_CODE


class OneLineUsageError(click.ClickException):
    """A wrong option or argument, said in one line that points at the command's help instead of
    click's usage block."""

    exit_code = USAGE_EXIT_CODE


class BotGroup(click.Group):
    """The top-level group: turns any exception a command lets through into one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort):
            raise
        except click.UsageError as error:
            where = error.ctx.command_path if error.ctx is not None else ctx.command_path
            raise OneLineUsageError(f"{error.format_message().rstrip('.')}; see `{where} --help`") from error
        except click.ClickException as error:
            if ctx.meta.get(DEBUG_KEY) and error.__cause__ is not None:
                traceback.print_exception(error.__cause__, file=sys.stderr)
            raise
        except Exception as error:
            if ctx.meta.get(DEBUG_KEY):
                traceback.print_exception(error, file=sys.stderr)
            raise one_line(error) from error


def one_line(error: Exception) -> click.ClickException:
    """The one-line message and exit code for an exception no command turned into a message."""
    from pydantic import ValidationError

    from bot.errors import Refusal

    if isinstance(error, ValidationError) and error.title == "Settings":
        return SettingError(_settings_message(error))
    if isinstance(error, Refusal):
        return click.ClickException(error.detail)
    # Only modules a command has already imported can have raised their errors.
    check = sys.modules.get("bot.db.check")
    if check is not None and isinstance(error, check.DatabaseUrlInvalid):
        return SettingError(str(error))
    if check is not None and isinstance(error, check.DatabaseUnreachable):
        return click.ClickException(str(error))
    sqlalchemy_errors = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_errors is not None and isinstance(error, sqlalchemy_errors.DBAPIError):
        return click.ClickException(
            f"database error: {_first_line(error.orig)}; if the schema is missing or old, "
            f"run `bot db upgrade` ({DEBUG_HINT})"
        )
    if isinstance(error, OSError):
        return click.ClickException(f"{error}")
    return click.ClickException(f"unexpected {type(error).__name__}: {_first_line(error)}; {DEBUG_HINT}")


def _settings_message(error: Any) -> str:
    """``BOT_FIELD: what pydantic says`` for the first invalid setting; the value is left out, as
    it may be a secret."""
    problems = error.errors(include_url=False)
    first = problems[0]
    field = "_".join(str(part) for part in first["loc"][:1]).upper()
    more = f" (and {len(problems) - 1} more invalid settings)" if len(problems) > 1 else ""
    return f"BOT_{field}: {first['msg']}{more}"


def _first_line(error: BaseException | None) -> str:
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines else type(error).__name__
