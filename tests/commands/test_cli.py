"""The command line itself: every verb in the README is wired, every help has examples and no
Python type labels, `-h` works everywhere, and errors share one style."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import rollout
from rollout.cli import app, main

ROOT = Path(__file__).resolve().parents[2]


def readme_verbs() -> set[str]:
    text = (ROOT / "README.md").read_text()
    table = text[text.index("## Commands and exit codes") : text.index("| code | meaning |")]
    return set(re.findall(r"`rollout ([a-z]+)", table))


def wired_verbs() -> set[str]:
    return {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}


def wired_groups() -> set[str]:
    """Sub-command groups (`rollout azure upgrades ...`): the README table names them too."""
    return {g.name or "" for g in app.registered_groups}


def test_every_verb_in_the_readme_table_is_wired_and_the_other_way_round() -> None:
    documented = readme_verbs()
    assert len(documented) >= 15  # the table was found and read
    assert documented == wired_verbs() | wired_groups()


@pytest.mark.parametrize("verb", sorted(wired_verbs()))
def test_every_help_has_examples_h_and_no_type_labels(
    verb: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([verb, "-h"]) == 0
    text = capsys.readouterr().out
    assert main([verb, "--help"]) == 0
    assert capsys.readouterr().out == text
    assert "\n  Examples:\n    $ rollout " + verb in text
    assert not re.search(r"<(list|str|int|Path|path|bool)\b", text), text  # no typer type leak
    assert "-h, --help" in text
    assert "-o, --output text|json" in text  # `-o json` on every verb


def test_the_root_help_offers_completion_and_the_version(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["-h"]) == 0
    text = capsys.readouterr().out
    assert "--install-completion" in text and "--show-completion" in text
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"rollout {rollout.__version__}\n"


def test_init_takes_json_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path / "p.yaml"), "-o", "json"]) == 0
    doc = __import__("json").loads(capsys.readouterr().out)
    assert doc["schema"] == "rollout.init/v1" and doc["path"] == str(tmp_path / "p.yaml")


def test_bad_arguments_are_exit_2_in_the_one_error_style(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["apply", "--bogus"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "error: No such option: --bogus"
    assert err[1].startswith("Usage: rollout apply [OPTIONS]")
    assert err[2] == "Try 'rollout apply -h' for help."
    assert main(["history"]) == 2
    assert capsys.readouterr().err.startswith("error: Missing argument 'NAME'.")


def test_an_expected_failure_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") or err.startswith(str(tmp_path))
    assert "bug in rollout" not in err


def test_bare_rollout_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    out = capsys.readouterr()
    assert "Commands:" in out.out + out.err


def test_the_commands_take_the_injected_clock() -> None:
    import importlib
    import inspect

    for verb in {"list_" if v == "list" else v for v in wired_verbs()}:
        module = "control" if verb in ("pause", "resume", "promote") else verb
        run = importlib.import_module(f"rollout.commands.{module}").run
        assert "clock" in inspect.signature(run).parameters, module
