"""What every command shares: options, building the engine, rendering, progress.

Output goes through :func:`emit` (data) and :func:`say` (messages on stderr);
both mask every secret the configuration holds, the last line of defence
behind the Secret type itself.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from provisioning_core.cli import WARNINGS_LOGGER

if TYPE_CHECKING:
    from provisioning_core.config import Config
    from provisioning_core.extensions import ExtensionManager
    from provisioning_core.operations import Engine, Report

__all__ = [
    "OUTPUTS",
    "Command",
    "Group",
    "Settings",
    "check_option",
    "emit",
    "emit_report",
    "engine_for",
    "extension_manager",
    "literal",
    "load_config_for",
    "output_format",
    "output_option",
    "parallelism_option",
    "provider_option",
    "say",
    "wait_option",
]

F = TypeVar("F", bound=Callable[..., Any])
OUTPUTS = ("table", "json", "yaml")

# secrets of the loaded configuration, masked in everything printed
_SECRETS: list[object] = []


class Settings:
    """The global options, kept on the click context (``ctx.obj``)."""

    def __init__(self, config_file: str | None, verbose: int, *, debug: bool) -> None:
        self.config_file = config_file
        self.verbose = verbose
        self.debug = debug
        self.config: Config | None = None
        #: --detailed-exitcode: a plan with changes exits 2; --diff: reports show diffs
        self.detailed_exitcode = False
        self.show_diff = False
        #: -o wide: tables keep every column; --no-headers: tables without a header
        self.wide = False
        self.no_headers = False


def _settings() -> Settings:
    ctx = click.get_current_context()
    obj = ctx.find_object(Settings)
    if obj is None:  # a command invoked on its own (tests of one group)
        obj = Settings(None, 0, debug=False)
        ctx.obj = obj
    return obj


# -- commands -----------------------------------------------------------------


class Command(click.Command):
    """A command that refuses text which is not UTF-8 before anything uses it.

    Python decodes argv bytes that are not UTF-8 as lone surrogates
    (``'\\udcff'``); such a name can be neither stored in the inventory nor
    printed, so it is a usage error naming the parameter, like any bad value.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        for param in self.get_params(ctx):
            if not isinstance(param.type, click.types.StringParamType) or param.name is None:
                continue  # paths may be any bytes; UNPROCESSED belongs to another program
            value = ctx.params.get(param.name)
            for text in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(text, str) and not _is_utf8(text):
                    shown = text.encode(errors="surrogateescape").decode(errors="backslashreplace")
                    raise click.BadParameter(f"'{shown}' is not UTF-8 text", ctx=ctx, param=param)
        return rest


class Group(click.Group):
    """A group whose commands are :class:`Command` s."""

    command_class = Command


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


# -- options ------------------------------------------------------------------


def output_option(f: F) -> F:
    """``-o/--output table|wide|json|yaml`` and ``--no-headers``.

    ``wide`` is a table with every column (a narrow terminal's table drops the
    last columns first); commands see it as ``table``.
    """
    f = click.option(
        "--no-headers",
        is_flag=True,
        expose_value=False,
        callback=_remember_no_headers,
        help="Tables without their header line (for scripts reading columns).",
    )(f)
    return click.option(
        "-o",
        "--output",
        type=click.Choice((*OUTPUTS, "wide")),
        default=None,
        callback=_remember_wide,
        help="Output format (default: table on a terminal, json otherwise; wide: a table "
        "with every column).",
    )(f)


def _remember_wide(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value == "wide":
        _settings().wide = True
        return "table"
    return value


def _remember_no_headers(_ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        _settings().no_headers = True


def check_option(f: F) -> F:
    """``--check``: change nothing, print the plan; ``--detailed-exitcode`` and ``--diff``."""
    f = click.option(
        "--diff",
        is_flag=True,
        expose_value=False,
        callback=_remember_diff,
        help="Show each file's and unit's changes as a unified diff (coloured on a terminal); "
        "without it, one line per change. JSON always has them: data.changes.",
    )(f)
    f = click.option(
        "--detailed-exitcode",
        is_flag=True,
        expose_value=False,
        callback=_remember_detailed_exitcode,
        help="With --check: exit 0 when nothing would change, 2 when changes are planned, "
        "1 on an error (as terraform plan -detailed-exitcode).",
    )(f)
    return click.option(
        "--check", is_flag=True, help="Change nothing anywhere; print what would be done."
    )(f)


def _remember_diff(_ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        _settings().show_diff = True


def _remember_detailed_exitcode(_ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        _settings().detailed_exitcode = True


def wait_option(f: F) -> F:
    """``--wait``: poll until the target state."""
    return click.option(
        "--wait",
        is_flag=True,
        help="Wait until the target state is reached (operations.wait_interval and "
        "operations.wait_timeout set the pace and the deadline).",
    )(f)


def parallelism_option(f: F) -> F:
    """``--parallelism N``."""
    return click.option(
        "--parallelism",
        type=click.IntRange(min=1),
        default=None,
        help="Most targets worked on at once (default: operations.parallelism, 10).",
    )(f)


def provider_option(*, required: bool = False, help_text: str | None = None) -> Callable[[F], F]:
    """``--provider P``."""
    return click.option(
        "--provider",
        "-p",
        required=required,
        metavar="NAME",
        shell_complete=_complete_provider,
        help=help_text
        or "The provider (needed only for servers prov did not create: the inventory "
        "remembers each server's provider).",
    )


def _complete_provider(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
    from provisioning_core.discovery import Discovery

    return [
        e.name
        for e in Discovery().all("provider")
        if e.status == "ok" and e.name.startswith(incomplete)
    ]


# -- engine -----------------------------------------------------------------------


def load_config_for(overrides: dict[str, Any] | None = None) -> Config:
    """The configuration, with ``--config`` and command-line overrides applied."""
    from provisioning_core.config import load_config

    settings = _settings()
    config = load_config(config_file=settings.config_file, overrides=overrides)
    settings.config = config
    _SECRETS[:] = config.secrets()
    _warn_short_secrets(config)
    from provisioning_core import paths
    from provisioning_core.errors import ConfigError

    try:  # every cache of this process lives in the configured cache_dir
        paths.use_extension_cache_dir(config.extensions.cache_dir)
    except ConfigError:
        paths.use_extension_cache_dir(None)  # reported by the command that needs it
    return config


_WARNED: set[str] = set()


def _warn_short_secrets(config: Config) -> None:
    """Once per process and setting: a secret too short to be masked in output."""
    from provisioning_core.secret import MIN_MASKED_LENGTH

    for where in config.short_secrets():
        if where not in _WARNED:
            _WARNED.add(where)
            say(
                f"warning: the secret at {where} is shorter than {MIN_MASKED_LENGTH} "
                "characters: prov cannot mask it in output without masking ordinary words, "
                "and it is easy to guess\n  hint: use a longer one (a provider's real API "
                "token or password usually is)"
            )


def extension_manager(*, tolerant: bool = False, strict: bool | None = None) -> ExtensionManager:
    """An :class:`ExtensionManager` honouring ``[orchestrator.extensions]``.

    ``tolerant``: a configuration that cannot be read is a warning and the
    defaults are used (``prov plugin list`` always works); otherwise it is
    the error.
    """
    from provisioning_core.errors import ConfigError
    from provisioning_core.extensions import ExtensionManager

    try:
        extensions = load_config_for().extensions
    except ConfigError as exc:
        if not tolerant:
            raise
        say(f"warning: {exc}\n  (the default extension settings are used)")
        return ExtensionManager(strict=strict)
    return ExtensionManager(
        auto_load=extensions.auto_load,
        cache_dir=extensions.cache_dir,
        strict=strict,
        import_timeout=extensions.import_timeout,
        probe_memory_mb=extensions.probe_memory_mb,
    )


def engine_for(*, check: bool = False, parallelism: int | None = None) -> Engine:
    """An engine for this command; it is closed when the command ends.

    Warns about operations an earlier run left unfinished.
    """
    from provisioning_core.operations import Engine

    config = load_config_for()
    engine = Engine(
        config,
        check=check,
        parallelism=parallelism,
        reporter=_reporter(),
        command=" ".join(["prov", *sys.argv[1:]])
        if Path(sys.argv[0]).name in {"prov", "__main__.py"}
        else click.get_current_context().command_path,
    )
    click.get_current_context().call_on_close(engine.close)
    for op in engine.interrupted():
        where = f" on {op.provider}" if op.provider else ""
        server_id = op.details.get("server_id")
        say(
            f"warning: an earlier run was interrupted: {op.action} {op.target}{where} "
            f"(operation {op.id}, pid {op.pid}, started {op.started_at:%Y-%m-%d %H:%M:%S} UTC) "
            "never finished"
            + (f"; server id {server_id}" if server_id else "")
            + ".\n  hint: check what exists with prov server list"
            + (f" --provider {op.provider}" if op.provider else "")
            + f", then prov operations ack {op.id}"
        )
    return engine


def _reporter() -> Callable[[str, str], None]:
    verbose = _settings().verbose
    tty = sys.stderr.isatty()

    def report(target: str, message: str) -> None:
        if tty or verbose:
            say(f"{time.strftime('%H:%M:%S')} {target}: {message}")

    return report


# -- rendering ----------------------------------------------------------------------


def literal(text: str) -> str:
    """``text`` safe for a terminal: control and format characters written as escapes.

    A provider's or a user's text must never drive the terminal: an ESC
    sequence (colours, a hyperlink, a cursor move) or a bidirectional
    override is shown as ``\\x1b``/``\\u202e``, not obeyed.  Newlines and
    tabs stay.
    """
    if text.isprintable():
        return text
    import unicodedata

    out = []
    for char in text:
        if char in "\n\t" or unicodedata.category(char) not in {"Cc", "Cf"}:
            out.append(char)
        elif ord(char) < 0x100:  # noqa: PLR2004 - one byte
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}")
    return "".join(out)


def _mask(text: str) -> str:
    if not _SECRETS:
        return text
    from provisioning_core.secret import redact

    return redact(text, _SECRETS)


def say(message: str) -> None:
    """A message for the person at the terminal, on stderr, secrets masked, printed literally."""
    click.echo(literal(_mask(message)), err=True)


def _plain(data: Any) -> Any:
    from provisioning_core.convert import unstructure

    return unstructure(data)


def output_format(output: str | None) -> str:
    """The format to print: ``output``, else table on a terminal and json otherwise."""
    return output or ("table" if sys.stdout.isatty() else "json")


def emit(
    data: Any,
    output: str | None,
    *,
    columns: Sequence[str] | None = None,
    key: str | None = None,
    empty: str = "nothing to show",
) -> None:
    """Print ``data`` (a record, or a list of records under ``key``) as table, JSON or YAML."""
    plain = _plain(data)
    fmt = output_format(output)
    if fmt == "json":
        click.echo(_mask(json.dumps({key: plain} if key else plain, indent=2, default=str)))
        return
    if fmt == "yaml":
        import yaml

        text = yaml.safe_dump({key: plain} if key else plain, sort_keys=False, allow_unicode=True)
        click.echo(_mask(text.rstrip("\n")))
        return
    rows = plain if isinstance(plain, list) else [plain]
    if not rows:
        click.echo(empty)
        return
    _table(rows, list(columns) if columns else list(rows[0]))


def _cell(value: Any) -> str:
    if value is None or value in ("", [], {}):
        return "-"
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)


_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]00:00)$")
_ALWAYS_SHOWN = 2  # columns a narrow table never drops
_PIPED_WIDTH = 200
_WIDE_WIDTH = 1000


def _table_width(tty: bool, *, wide: bool) -> int:
    """The terminal's width; 200 piped; for ``-o wide`` what the cells need (kubectl's way)."""
    if wide:
        return _WIDE_WIDTH
    return shutil.get_terminal_size().columns if tty else _PIPED_WIDTH


def _table_cell(value: Any) -> str:
    text = _cell(value)
    match = _TIMESTAMP.match(text)
    if match:  # a UTC timestamp, to the second: one token that fits a table
        return f"{match.group(1)} {match.group(2)}"
    return text


def _colour_diff(text: Any) -> None:
    """Diff lines of a cell green (+), red (-), cyan (@@); headers bold. Shown on a TTY only."""
    at = 0
    for line in text.plain.split("\n"):
        style = None
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        if style:
            text.stylize(style, at, at + len(line))
        at += len(line) + 1


def _ascii_only() -> bool:
    """A terminal that cannot show box-drawing characters: TERM=dumb, or a C/POSIX locale."""
    if os.environ.get("TERM") == "dumb":
        return True
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = os.environ.get(name)
        if value:
            return value in {"C", "POSIX"} or "utf" not in value.lower().replace("-", "")
    return False


def _fit(columns: list[str], cells: list[list[str]], width: int) -> list[int]:
    """The indexes of the columns shown: the last ones dropped until the rest fit ``width``."""
    natural = [
        max([len(c.upper())] + [max(map(len, row[i].split("\n"))) for row in cells])
        for i, c in enumerate(columns)
    ]
    shown = list(range(len(columns)))
    # between two columns: a space of padding each side and the rule's own column
    while (
        len(shown) > _ALWAYS_SHOWN and sum(natural[i] for i in shown) + 3 * (len(shown) - 1) > width
    ):
        shown.pop()
    return shown


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """A table: cells literal, never split mid-word, the last columns dropped when narrow.

    On a terminal the table fits its width: a word too long for its column is
    cut with "…", and listings (more than four columns) drop their last columns
    first, saying which (``-o wide`` keeps them).  Piped, it is 200 columns wide
    and has no trailing spaces.  ``TERM=dumb`` or a C locale draw ASCII rules.
    """
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    settings = _settings()
    stream = sys.stdout
    tty = stream.isatty()
    ascii_only = _ascii_only()
    console = Console(
        file=io.StringIO(),
        width=_table_width(tty, wide=settings.wide),
        soft_wrap=False,
        force_terminal=tty and not ascii_only,
        color_system="auto" if tty and not ascii_only else None,
        legacy_windows=False,
    )
    cells = [[literal(_mask(_table_cell(row.get(c)))) for c in columns] for row in rows]
    shown = list(range(len(columns)))
    if tty and not settings.wide and len(columns) > 4:  # noqa: PLR2004 - listings, not reports
        shown = _fit(columns, cells, console.width)
    rules = box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)
    table = Table(
        box=rules if ascii_only else box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        highlight=False,
        show_header=not settings.no_headers,
        safe_box=ascii_only,
    )
    for i in shown:
        table.add_column(columns[i].upper().replace("_", " "), overflow="ellipsis")
    for row in cells:
        # Text, not str: a cell is data, printed literally; a str would be read as Rich
        # markup, so "[grpc]" would vanish and "[link=...]" would drive the terminal
        texts = [Text(row[i]) for i in shown]
        if "result" in columns and columns.index("result") in shown:  # a report's symbols
            result = texts[shown.index(columns.index("result"))]
            style = _STYLES.get(
                {"+": "add", "~": "change", "-": "destroy"}.get(result.plain[:1], "")
            )
            if style and result.plain[1:2] == " ":
                result.stylize(style, 0, 1)
        if settings.show_diff and "detail" in columns and columns.index("detail") in shown:
            _colour_diff(texts[shown.index(columns.index("detail"))])
        table.add_row(*texts)
    console.print(table)
    rendered = console.file.getvalue()  # type: ignore[attr-defined]
    if not tty or settings.wide:  # no trailing padding where no terminal width is filled
        rendered = "\n".join(line.rstrip() for line in rendered.split("\n"))
    stream.write(rendered)
    stream.flush()
    hidden = [columns[i] for i in range(len(columns)) if i not in shown]
    if hidden:
        say(f"(not shown: {', '.join(hidden)}; -o wide shows every column)")


_SYMBOLS = {"add": "+", "change": "~", "destroy": "-"}
_STYLES = {"add": "green", "change": "yellow", "destroy": "red"}


def emit_report(report: Report, output: str | None) -> None:
    """Print a report; errors and hints also go to stderr; exit 1 if anything failed.

    In a table each changed target's result carries terraform's symbol (``+`` add, ``~``
    change, ``-`` destroy; coloured on a terminal), an unchanged one reads "no changes",
    and a last line sums it up: "Plan: 1 to add, 0 to change, 0 to destroy." in check
    mode, "Apply complete: 1 added, 0 changed, 0 destroyed." otherwise.  With
    ``--detailed-exitcode`` a plan exits 2 when it has changes, 0 when it has none.
    """
    from provisioning_core.operations.report import change_kind, summary

    fmt = output_format(output)
    kind = change_kind(report.operation)
    if fmt != "table":
        from provisioning_core.operations.report import report_data

        emit(report_data(report), fmt)
    else:
        rows = [
            {
                "target": r.target,
                "result": _result_cell(r.outcome, kind),
                "status": r.status,
                "detail": ("" if r.outcome == "unchanged" else "\n".join(_with_diffs(r)))
                if r.ok
                else (r.error or ""),
            }
            for r in report.results
        ]
        emit(rows, "table", columns=["target", "result", "status", "detail"])
        for line in _detail_lines(report.details):
            click.echo(literal(_mask(line)))
        click.echo(_summary_line(report, summary(report)))
    for r in report.results:
        if not r.ok:
            say(f"error: {r.target}: {r.error}" + (f"\n  hint: {r.hint}" if r.hint else ""))
    for warning in report.warnings:
        say(f"warning: {warning}")
    if report.interrupted:
        say(
            "interrupted: work in flight finished and was recorded; targets marked skipped "
            "were not started"
        )
    if report.exit_code:
        raise SystemExit(report.exit_code)
    if report.check and _settings().detailed_exitcode:
        counts = summary(report)
        if counts["add"] + counts["change"] + counts["destroy"]:
            raise SystemExit(2)


def _with_diffs(result: Any) -> list[str]:
    """A result's actions; with ``--diff``, each change followed by its diff's lines."""
    if not _settings().show_diff:
        return list(result.actions)
    diffs = {
        c.get("change"): c.get("diff")
        for c in result.data.get("changes", [])
        if isinstance(c, dict) and c.get("diff")
    }
    lines: list[str] = []
    for action in result.actions:
        lines.append(action)
        diff = diffs.get(action)
        if diff:
            lines += str(diff).rstrip("\n").split("\n")
    return lines


def _result_cell(outcome: str, kind: str) -> str:
    if outcome == "unchanged":
        return "no changes"
    if outcome in {"planned", "done"}:
        return f"{_SYMBOLS[kind]} {outcome}"
    return outcome


def _summary_line(report: Report, counts: dict[str, int]) -> str:
    changes = counts["add"] + counts["change"] + counts["destroy"]
    if report.check:
        if not changes:
            return "No changes: nothing to do. (check mode: nothing was changed)"
        return (
            f"Plan: {counts['add']} to add, {counts['change']} to change, "
            f"{counts['destroy']} to destroy. (check mode: nothing was changed)"
        )
    done = f"{counts['add']} added, {counts['change']} changed, {counts['destroy']} destroyed" + (
        f", {counts['unchanged']} unchanged" if counts["unchanged"] else ""
    )
    if report.interrupted or report.exit_code == 130:  # noqa: PLR2004 - interrupted
        return f"Apply interrupted: {done}; {counts['failed']} not done."
    if not report.ok:
        return f"Apply incomplete: {done}; {counts['failed']} failed."
    return f"Apply complete: {done}."


def _detail_lines(details: dict[str, Any]) -> list[str]:
    """A report's ``details`` in table mode, one line each."""
    lines = []
    for key, value in details.items():
        if key == "requirements_check" and isinstance(value, dict):
            required = value.get("required") or {}
            lines.append(
                f"requirements met: {required.get('min_nodes')} server(s) or more, each "
                f"cpu {required.get('cpu_per_node')}, memory {required.get('memory_per_node')}, "
                f"storage {required.get('storage_per_node')} ({required.get('from')})"
            )
            lines += [f"  {server}: {plan}" for server, plan in value.get("servers", {}).items()]
        elif key == "endpoints" and isinstance(value, dict):
            lines += [f"endpoint {c}: {', '.join(map(str, a))}" for c, a in value.items()]
        elif key == "skipped" and isinstance(value, dict):
            lines += [f"skipped {c}: {why}" for c, why in value.items()]
        elif key == "left" and value:
            lines.append(f"left (not removed): {', '.join(map(str, value))}")
    return lines


@contextmanager
def debug_logging(verbose: int, *, debug: bool = False) -> Iterator[None]:
    """``-v`` logs operations at info level, ``-vv`` at debug, on stderr, secrets masked.

    The libraries' warnings, which ``prov`` turns into debug records of
    ``provisioning.warnings`` (:func:`provisioning_core.cli.run`), show with
    ``-vv`` and with ``--debug``.
    """
    attached: list[tuple[logging.Logger, int, bool]] = []  # (logger, level, propagate)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if verbose:
        attached.append(
            (
                logging.getLogger("provisioning"),
                logging.DEBUG if verbose > 1 else logging.INFO,
                True,
            )
        )
    if debug and verbose <= 1:
        # only the warnings: --debug alone does not log every hook call
        attached.append((logging.getLogger(WARNINGS_LOGGER), logging.DEBUG, False))
    saved = [(logger, logger.level, logger.propagate) for logger, _, _ in attached]
    for logger, level, propagate in attached:
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate  # a warning is printed once, by its own handler
    try:
        yield
    finally:
        for logger, level, propagate in saved:  # an in-process caller's next run starts clean
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate


class _MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return _mask(super().format(record))
