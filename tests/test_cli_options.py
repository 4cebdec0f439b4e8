"""Every bad option, argument or command ends in one `error:` line naming it, exit 2, no traceback.

The option kinds are read from the typer app itself (every parameter of every command), so an
option of a new kind without a failing case below fails `test_every_option_kind_has_a_failing_case`.
The cases run through the installed console script, as a user types them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

from conftest import REPO

SCRIPT = Path(sys.executable).parent / "swallow-eval"
RUN = ["run", "--tasks", "jcommonsenseqa", "--model", "proxy:gemma3-270m"]

# (kind of option, argv, what the error line must name)
CASES = [
    ("int: below minimum", [*RUN, "--limit", "-1"], "'--limit'"),
    ("int: below minimum", [*RUN, "--limit", "0"], "'--limit'"),
    ("int: not a number", [*RUN, "--batch-size", "many"], "'--batch-size'"),
    ("float: above maximum", [*RUN, "--gpu-memory-utilization", "2"], "'--gpu-memory-utilization'"),
    ("float: below minimum", ["compare", "a", "b", "--tolerance", "-1"], "'--tolerance'"),
    ("float: not a number", [*RUN, "--request-timeout", "soon"], "'--request-timeout'"),
    ("path: missing file", ["score", "jcommonsenseqa", "--predictions", "missing.jsonl"], "'--predictions'"),
    ("path: missing file", [*RUN, "--chat-template", "missing.jinja"], "'--chat-template'"),
    ("flag: given a value", [*RUN, "--enforce-eager=yes"], "'--enforce-eager'"),
    ("missing required option", ["run", "--tasks", "jcommonsenseqa"], "'--model'"),
    ("missing required argument", ["score"], "Missing argument 'task'"),
    # Values the commands validate themselves (names, formats, folders).
    ("validated value", [*RUN, "--backend", "nope"], "unknown backend 'nope'"),
    ("validated value", ["report", "--format", "nope"], "--format nope"),
    ("validated value", ["run", "--suite", "nope", "--model", "proxy:gemma3-270m"], "unknown suite 'nope'"),
    ("validated value", ["prompts", "jcommonsenseqa", "--data-dir", "missing-dir"], "--data-dir missing-dir"),
    ("unknown option", ["run", "--modle", "x"], "No such option: --modle. Did you mean"),
    ("unknown command", ["rnu"], "No such command 'rnu'. Did you mean 'run'?"),
    ("unknown command", ["data", "downlaod"], "No such command 'downlaod'. Did you mean 'download'?"),
]

# Kinds where every value is accepted at parse time (free text, paths not required to exist).
NO_BAD_VALUE = {"text", "path: any", "flag"}


def _descriptor(param):
    """(base type, typer's parameter info, is a choice), or None when typer describes it no more."""
    desc = getattr(param, "type_descriptor", None)
    if desc is None:
        return None
    base = get_args(desc.annotation)[0] if desc.is_list else desc.annotation
    return base, desc.parameter_info, desc.is_choice


def kinds(param) -> set[str]:
    """The ways one click parameter can be given wrong (or why it cannot)."""
    found = {f"missing required {param.param_type_name}"} if param.required else set()
    described = _descriptor(param)
    if described is None:
        return found | {f"unclassified {type(param).__name__} {param.name}"}
    base, info, is_choice = described
    if is_choice:
        found.add("unknown choice")
    elif base is bool:
        found.add("flag: given a value" if getattr(param, "is_flag", False) else "bool: not a boolean")
        found.add("flag")
    elif base in (int, float):
        found.add(f"{base.__name__}: not a number")
        if info.min is not None:
            found.add(f"{base.__name__}: below minimum")
        if info.max is not None:
            found.add(f"{base.__name__}: above maximum")
    elif base is Path:
        if not info.exists:
            found.add("path: any")
        elif not info.dir_okay:
            found.add("path: missing file")
        elif not info.file_okay:
            found.add("path: missing folder")
        else:
            found.add("path: missing")
    elif base is str:
        found.add("text")
    else:
        found.add(f"unclassified {base!r} {param.name}")
    return found


def all_params():
    """(command path, click parameter) for every command of the app, sub-apps included."""
    import typer.main

    from swallow_eval.cli import app

    def walk(command, path):
        for param in command.params:
            yield path, param
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    return list(walk(typer.main.get_command(app), []))


def test_every_option_kind_has_a_failing_case():
    present = {kind: f"{' '.join(path)} {param.name}" for path, param in all_params() for kind in kinds(param)}
    uncovered = {kind: where for kind, where in present.items()
                 if kind not in NO_BAD_VALUE and kind not in {case[0] for case in CASES}}
    assert not uncovered, f"option kinds without a failing case in CASES: {uncovered}"
    assert "missing required option" in present and "int: below minimum" in present  # the walk saw the app


def run_script(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([str(SCRIPT), *argv], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


@pytest.mark.parametrize("kind, argv, named", CASES, ids=[" ".join(case[1][:1] + case[1][-2:]) for case in CASES])
def test_bad_input_is_one_error_line(kind, argv, named, tmp_path):
    assert SCRIPT.is_file(), f"the console script is not installed next to {sys.executable}"
    result = run_script(argv, tmp_path)
    assert result.returncode == 2, (kind, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert named in lines[0], lines[0]


def test_no_command_shows_the_help(tmp_path):
    for argv in ([], ["data"]):
        result = run_script(argv, tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert "Usage:" in result.stdout + result.stderr and "download" in result.stdout + result.stderr


def bad_value(kind: str, param, tmp_path: Path) -> list[str] | None:
    """Command-line words giving `param` a value of the wrong `kind`, or None for other kinds."""
    option = param.opts[0]
    if kind == "flag: given a value":
        return [f"{option}=yes"]
    if param.param_type_name != "option":
        return None
    info = param.type_descriptor.parameter_info
    value = {"int: not a number": "many", "float: not a number": "soon", "bool: not a boolean": "maybe",
             "unknown choice": "nope", "path: missing file": str(tmp_path / "missing"),
             "path: missing folder": str(tmp_path / "missing"), "path: missing": str(tmp_path / "missing")}.get(kind)
    if kind.endswith("below minimum"):
        value = str(info.min - 1)
    elif kind.endswith("above maximum"):
        value = str(info.max + 1)
    return None if value is None else [option, value]


def main_error(argv: list[str], monkeypatch, capsys) -> str:
    """Call the CLI's main() in-process; its one error line."""
    from swallow_eval.cli import main

    monkeypatch.setattr(sys, "argv", ["swallow-eval", *argv])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_every_checked_option_fails_in_one_line(tmp_path, monkeypatch, capsys):
    """Not one option per kind: every option of every command, through main() in-process (cheap)."""
    checked = 0
    for path, param in all_params():
        for kind in sorted(kinds(param)):
            words = bad_value(kind, param, tmp_path)
            if words is None:
                continue
            line = main_error([*path, *words], monkeypatch, capsys)
            assert f"'{param.opts[0]}'" in line, (kind, path, line)
            checked += 1
    assert checked > 20


def test_every_missing_required_parameter_is_named(tmp_path, monkeypatch, capsys):
    existing = tmp_path / "exists.jsonl"
    existing.write_text("")
    for path, params in _by_command(all_params()).items():
        given: list[str] = []
        for param in params:
            if not param.required:
                continue
            line = main_error([*path, *given], monkeypatch, capsys)
            name = param.opts[0] if param.param_type_name == "option" else param.name
            assert line.startswith(f"error: Missing {param.param_type_name} '{name}'"), line
            value = str(existing) if kinds(param) & {"path: missing file", "path: missing"} else "jcommonsenseqa"
            given += [value] if param.param_type_name == "argument" else [param.opts[0], value]


def _by_command(params):
    grouped: dict[tuple, list] = {}
    for path, param in params:
        grouped.setdefault(tuple(path), []).append(param)
    return grouped


def _raiser(exc: BaseException):
    def app(**_):
        raise exc
    return app


def test_both_click_copies_are_handled(monkeypatch, capsys):
    """typer's vendored click (with typer.Exit/Abort) and plain click: usage errors, Abort, Exit."""
    import click
    import typer
    from typer._click import exceptions as vendored

    from swallow_eval import cli

    cases = []
    copies = ((vendored, typer.Abort, typer.Exit), (click.exceptions, click.Abort, click.exceptions.Exit))
    for exceptions, abort, exit_ in copies:
        cases += [(exceptions.UsageError("bad thing"), 2, "error: bad thing"),
                  (exceptions.BadParameter("too big", param_hint="'--n'"), 2,
                   "error: Invalid value for '--n': too big"),
                  (abort(), 130, cli.INTERRUPTED), (exit_(3), 3, "")]
    cases.append((KeyboardInterrupt(), 130, cli.INTERRUPTED))
    for exc, code, line in cases:
        monkeypatch.setattr(cli, "app", _raiser(exc))
        with pytest.raises(SystemExit) as exit_info:
            cli.main()
        err = capsys.readouterr().err
        assert (exit_info.value.code, err.strip()) == (code, line), repr(exc)
