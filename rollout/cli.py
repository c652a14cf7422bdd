"""The command line: parses arguments and hands them to `rollout.commands.<verb>.run`.

Thin on purpose: no work happens here, and nothing heavy is imported at start-up
(`rollout --help` must not import azure, httpx, jinja2 or numpy). Each verb imports its
command module when it runs.
"""

from __future__ import annotations

import importlib
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from rollout import __version__

app = typer.Typer(
    name="rollout",
    help="Progressive delivery of LLM model and prompt versions: plan, shift, gate, roll back.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class Output(StrEnum):
    text = "text"
    json = "json"


State = Annotated[
    str | None,
    typer.Option(
        "--state",
        help="State store URL (sqlite:///path.db, postgresql://...). Env: ROLLOUT_STATE.",
        show_default=False,
    ),
]
OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="text or json.")]
Vars = Annotated[
    list[str] | None,
    typer.Option("--var", help="Template variable k=v (repeatable).", show_default=False),
]
VarFiles = Annotated[
    list[Path] | None,
    typer.Option(
        "--var-file", help="YAML file of template variables (repeatable).", show_default=False
    ),
]
PlanArg = Annotated[Path, typer.Argument(help="The plan file (YAML).", show_default=False)]
NameArg = Annotated[
    str, typer.Argument(help="The rollout's name (plan `name:`).", show_default=False)
]
Reason = Annotated[
    str | None, typer.Option("--reason", help="Why (kept in the audit trail).", show_default=False)
]


def _call(verb: str, **kwargs: Any) -> None:
    """Run one command module's `run(**kwargs)` inside the error boundary and exit with its code."""
    from rollout.error_handler import boundary

    def go() -> int:
        module = importlib.import_module(f"rollout.commands.{verb}")
        code: int = module.run(**kwargs)
        return code

    raise typer.Exit(boundary(go))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rollout {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Progressive delivery of LLM model and prompt versions."""


@app.command()
def validate(
    plans: Annotated[list[Path], typer.Argument(help="Plan files.", show_default=False)],
    var: Vars = None,
    var_file: VarFiles = None,
    output: OutputOpt = Output.text,
) -> None:
    """Check plan files; one line each. Exit 2 if any is invalid."""
    _call("validate", plans=plans, var=var or [], var_file=var_file or [], output=output.value)


@app.command()
def plan(
    plan_file: PlanArg,
    var: Vars = None,
    var_file: VarFiles = None,
    output: OutputOpt = Output.text,
    state: State = None,
) -> None:
    """Show the compiled steps (like `terraform plan`); nothing moves."""
    _call(
        "plan",
        plan_file=plan_file,
        var=var or [],
        var_file=var_file or [],
        output=output.value,
        state=state,
    )


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the starter plan.")] = Path(
        "plan.yaml"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter plan."""
    _call("init", path=path, force=force)


@app.command()
def apply(
    plan_file: PlanArg,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", help="Stop (exit 0) once this stage has passed.", show_default=False
        ),
    ] = None,
    approve: Annotated[
        bool, typer.Option("--approve", help="Approve every approval step of this run.")
    ] = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="Keep waiting while paused or at an approval step (instead of exit 5)."
        ),
    ] = False,
    var: Vars = None,
    var_file: VarFiles = None,
    state: State = None,
    output: OutputOpt = Output.text,
) -> None:
    """Run the rollout (or resume it at its recorded step)."""
    _call(
        "apply",
        plan_file=plan_file,
        until=until,
        approve=approve,
        wait=wait,
        var=var or [],
        var_file=var_file or [],
        state=state,
        output=output.value,
    )


@app.command()
def status(
    name: Annotated[
        str | None, typer.Argument(help="The rollout; all of them if omitted.", show_default=False)
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Refresh until the rollout finishes.")
    ] = False,
    state: State = None,
    output: OutputOpt = Output.text,
) -> None:
    """Where a rollout is: phase, stage, weights, gates."""
    _call("status", name=name, watch=watch, state=state, output=output.value)


@app.command("list")
def list_(state: State = None, output: OutputOpt = Output.text) -> None:
    """Every rollout in the state store."""
    _call("list_", state=state, output=output.value)


@app.command()
def history(
    name: NameArg,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Most recent events to show.")] = 50,
    all_attempts: Annotated[
        bool, typer.Option("--all", help="Every attempt, not just the latest.")
    ] = False,
    state: State = None,
    output: OutputOpt = Output.text,
) -> None:
    """The audit trail: every weight change, verdict and intent, with who and why."""
    _call(
        "history",
        name=name,
        limit=limit,
        all_attempts=all_attempts,
        state=state,
        output=output.value,
    )


@app.command()
def abort(
    name: NameArg, reason: Reason = None, state: State = None, output: OutputOpt = Output.text
) -> None:
    """Restore the baseline now, from any machine, and stop the rollout."""
    _call("abort", name=name, reason=reason, state=state, output=output.value)


@app.command()
def pause(name: NameArg, reason: Reason = None, state: State = None) -> None:
    """Hold the rollout at its current weights."""
    _call("control", name=name, action="pause", reason=reason, state=state)


@app.command()
def resume(name: NameArg, reason: Reason = None, state: State = None) -> None:
    """Continue a paused rollout."""
    _call("control", name=name, action="resume", reason=reason, state=state)


@app.command()
def promote(
    name: NameArg,
    full: Annotated[
        bool, typer.Option("--full", help="Skip the remaining steps: go to 100 % now.")
    ] = False,
    reason: Reason = None,
    state: State = None,
) -> None:
    """Approve the waiting approval step (or, with --full, finish now)."""
    _call(
        "control",
        name=name,
        action="promote_full" if full else "promote",
        reason=reason,
        state=state,
    )


@app.command()
def retry(name: NameArg, reason: Reason = None, state: State = None) -> None:
    """Start a rolled-back or aborted rollout again as a new attempt."""
    _call("retry", name=name, reason=reason, state=state)


class Format(StrEnum):
    markdown = "markdown"
    html = "html"


@app.command()
def report(
    name: NameArg,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="markdown or html.")
    ] = Format.markdown,
    state: State = None,
) -> None:
    """A summary for people: variants, gates with their evidence, the audit trail."""
    _call("report", name=name, fmt=fmt.value, state=state)


@app.command()
def check(
    plan_file: PlanArg, var: Vars = None, var_file: VarFiles = None, output: OutputOpt = Output.text
) -> None:
    """Run every gate's queries once for both variants and print what came back."""
    _call("check", plan_file=plan_file, var=var or [], var_file=var_file or [], output=output.value)


@app.command()
def simulate(
    plan_file: PlanArg,
    scenario: Annotated[
        str, typer.Option("--scenario", help="A built-in scenario name or a YAML file.")
    ] = "healthy",
    runs: Annotated[int, typer.Option("--runs", help="How many virtual rollouts.")] = 200,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed (results are reproducible).")
    ] = 1,
    var: Vars = None,
    var_file: VarFiles = None,
    output: OutputOpt = Output.text,
) -> None:
    """Run the plan's own engine in virtual time against simulated traffic; report how it judges."""
    _call(
        "simulate",
        plan_file=plan_file,
        scenario=scenario,
        runs=runs,
        seed=seed,
        var=var or [],
        var_file=var_file or [],
        output=output.value,
    )


def main(argv: list[str] | None = None) -> int:
    try:
        # Without standalone mode click returns the exit code of typer.Exit instead of raising.
        rv = app(args=argv, prog_name="rollout", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except (typer.Abort, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # click's usage errors (typer vendors click in recent releases, so match by shape):
        # bad arguments are invalid input, exit 2.
        if any(c.__name__ == "ClickException" for c in type(exc).__mro__):
            exc.show()  # type: ignore[attr-defined]
            return 2
        raise


if __name__ == "__main__":
    raise SystemExit(main())
