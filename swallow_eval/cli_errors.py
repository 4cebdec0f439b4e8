"""Click's usage errors as one `error:` line, whichever click the installed typer raises them from.

typer >= 0.20 vendors its own copy of click (`typer._click`): its exceptions are other classes than
`click.exceptions.*`, and `typer.Exit`/`typer.Abort` live in `typer.exceptions`. Catching one copy
alone lets the other's errors escape as tracebacks, so the CLI catches the classes of every copy
that is importable.
"""

from __future__ import annotations

import importlib

_MODULES = ("typer._click.exceptions", "typer.exceptions", "click.exceptions")


def _classes(name: str) -> tuple[type, ...]:
    found: list[type] = []
    for module_name in _MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        cls = getattr(module, name, None)
        if isinstance(cls, type) and cls not in found:
            found.append(cls)
    return tuple(found)


CLICK_ERRORS = _classes("ClickException")  # usage errors, bad/missing parameters, unknown options
ABORTS = _classes("Abort")  # Ctrl-C (or end of input) while click reads
EXITS = _classes("Exit")  # ctx.exit(code) / typer.Exit(code) raised outside the command body


def is_help(exc: Exception) -> bool:
    """`swallow-eval` or `swallow-eval data` alone: click raises the help text as a usage error."""
    return type(exc).__name__ == "NoArgsIsHelpError"


def one_line(exc: Exception) -> str:
    """Click's own message (it names the option or argument), with its suggestion, on one line."""
    message = exc.format_message()
    possibilities = getattr(exc, "possibilities", None)
    # Vendored click lists "(Possible options: ...)"; plain click says "Did you mean ...?": one wording.
    if possibilities and getattr(exc, "message", None):
        suggestions = " or ".join(repr(p) for p in sorted(possibilities))
        message = f"{exc.message.rstrip('.')}. Did you mean {suggestions}?"
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and ctx.command.get_help_option(ctx) is not None:
        message = f"{message.rstrip()} (see '{ctx.command_path} {ctx.help_option_names[0]}')"
    return " ".join(line.strip() for line in message.splitlines() if line.strip())
