"""The Click pieces every command group shares: command and group classes, parameter
types and the `--actor` option.

The command line was argparse before it was Click, and scripts read what it prints, so
these classes keep argparse's habits where someone could notice: `usage:` in lower case,
subcommands listed in the order they were added (not sorted), a command's one-line help
shown in its group's listing in full, and an option's value named after the option
(`--port PORT`). The root group (`cli/__init__.py`) adds `-h` beside `--help`.

Nothing here reads the environment or the login name: `--help` must work for a uid with
no passwd entry (`host/identity.py`), so defaults that need either are resolved when a
command runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from modelfleet.errors import ConfigError
from modelfleet.settings import ACTOR_ENV

F = TypeVar("F", bound=Callable[..., Any])

ACTOR_HELP = f"who acts (default ${ACTOR_ENV}, the login name, or uid:<n>)"


class Formatter(click.HelpFormatter):
    """Click's help layout with argparse's lower-case `usage:` (scripts look for it)."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, "usage: " if prefix is None else prefix)


class Context(click.Context):
    formatter_class = Formatter


class Command(click.Command):
    context_class = Context


class Option(click.Option):
    """An option whose value shows in help by its name in capitals (`--port PORT`), as
    argparse showed it, rather than by its type (`--port INTEGER`)."""

    def make_metavar(self, ctx: click.Context) -> str:
        if self.metavar is None and not self.is_flag and self.name:
            return self.name.upper()
        return super().make_metavar(ctx)


class Group(click.Group):
    """A command group that lists its commands in the order they were added."""

    context_class = Context
    command_class = Command
    group_class = type  # a group's subgroups are of this class too

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


# `-h` as well as `--help`, on every command itself: Click caches a command's help option
# the first time it builds one, so a command first run without its parent's context
# (a test's `make_context`) would otherwise answer `-h` with "no such option" from then on.
HELP = {"help_option_names": ["-h", "--help"]}


def command(name: str, help: str, description: str | None = None) -> Callable[[F], Command]:
    """A command: `help` is its line in the group's listing, `description` (default: the
    same line) the text at the top of its own `--help`."""
    return click.command(
        name, cls=Command, short_help=help, help=description or help, context_settings=HELP
    )


def group(
    name: str, help: str, description: str | None = None, **attrs: Any
) -> Callable[[F], Group]:
    """A command group, described as `command` describes a command."""
    attrs.setdefault("no_args_is_help", False)  # a usage error, as argparse gave
    attrs.setdefault("context_settings", HELP)
    return click.group(name, cls=Group, short_help=help, help=description or help, **attrs)


def option(*param_decls: str, **attrs: Any) -> Callable[[F], F]:
    """`click.option` with the argparse-style metavar of `Option`."""
    return click.option(*param_decls, cls=Option, **attrs)


def actor_option(function: F) -> F:
    """`--actor`: who the history row records; resolved when the command runs."""
    return option("--actor", help=ACTOR_HELP)(function)


def cli_actor(explicit: str | None) -> str:
    """The actor a history row records for this command: `cli:<who>`."""
    from modelfleet.host.identity import actor

    return f"cli:{actor(explicit)}"


def json_flag(help: str | None = None) -> Callable[[F], F]:
    """`--json`: print the result as JSON (passed to the command as `as_json`)."""
    return option("--json", "as_json", is_flag=True, help=help)


class Month(click.ParamType[str]):
    """`--month`: YYYY-MM."""

    name = "YYYY-MM"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        # trigger imports SQLAlchemy and the config: only when a month is given, so
        # `--help` stays fast
        from modelfleet.orchestration.trigger import check_month

        try:
            return str(check_month(str(value)))
        except ConfigError:
            # "2026-13" looks like YYYY-MM: say what a valid month is
            self.fail(
                f"month {value!r} is not a month: YYYY-MM with MM from 01 to 12 (e.g. 2026-03)",
                param,
                ctx,
            )


class InputShape(click.ParamType[tuple[int, int, int]]):
    """`--input-shape` of `workflow add`: HxWxC, e.g. 64x64x3."""

    name = "HxWxC"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[int, int, int]:
        if isinstance(value, tuple):
            return value
        return parse_input_shape(str(value))


def parse_input_shape(text: str) -> tuple[int, int, int]:
    """`64x48x3` -> (64, 48, 3); anything else is a usage error naming the form."""
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise click.BadParameter(f"expected HxWxC such as 64x64x3, got {text!r}")
    height, width, channels = (int(p) for p in parts)
    return (height, width, channels)
