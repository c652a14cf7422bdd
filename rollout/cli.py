"""The command line: parses arguments and hands them to `rollout.commands.<verb>.run`.

Thin on purpose: no work happens here, and nothing heavy is imported at start-up
(`rollout --help` must not import azure, httpx, jinja2 or numpy). Each verb imports its
command module when it runs. Errors are formatted in one place (`rollout.error_handler` for
what the commands raise, `_usage_error` here for bad arguments): always `error: ...`.
"""

from __future__ import annotations

import importlib
import sys
from contextvars import ContextVar
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rollout import __version__

if TYPE_CHECKING:
    from rollout.clock import Clock

# The clock every command gets; `main(argv, clock=FakeClock())` injects one in tests.
_CLOCK: ContextVar[Clock | None] = ContextVar("rollout_clock", default=None)


def _no_argument_types() -> None:
    """Typer labels arguments with Python types (`PLAN <list[Path]>`); the help text says what an
    argument is, so the label is dropped (options get metavars instead)."""
    core = getattr(typer, "core", None)
    argument = getattr(core, "TyperArgument", None)
    if argument is not None and hasattr(argument, "display_type_rich"):
        argument.display_type_rich = lambda self, ctx: None


_no_argument_types()

app = typer.Typer(
    name="rollout",
    help="Progressive delivery of LLM model and prompt versions: plan, shift, gate, roll back.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, pwsh)
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Output(StrEnum):
    text = "text"
    json = "json"


State = Annotated[
    str | None,
    typer.Option(
        "--state",
        metavar="URL",
        help="State store URL (sqlite:///path.db, postgresql://...). Env: ROLLOUT_STATE.",
        show_default=False,
    ),
]
OutputOpt = Annotated[
    Output, typer.Option("--output", "-o", metavar="text|json", help="text (default) or json.")
]
Vars = Annotated[
    list[str] | None,
    typer.Option(
        "--var", metavar="K=V", help="Template variable (repeatable).", show_default=False
    ),
]
VarFiles = Annotated[
    list[Path] | None,
    typer.Option(
        "--var-file",
        metavar="FILE",
        help="YAML file of template variables (repeatable).",
        show_default=False,
    ),
]
PlanArg = Annotated[
    Path, typer.Argument(metavar="PLAN", help="The plan file (YAML).", show_default=False)
]
NameArg = Annotated[
    str,
    typer.Argument(metavar="NAME", help="The rollout's name (plan `name:`).", show_default=False),
]
Reason = Annotated[
    str | None,
    typer.Option(
        "--reason", metavar="TEXT", help="Why (kept in the audit trail).", show_default=False
    ),
]


def _help(summary: str, *examples: str) -> str:
    """A command's help: the summary, then an Examples section kept as written (`\\b`)."""
    lines = "\n".join(f"  $ {e}" for e in examples)
    return f"{summary}\n\n\b\nExamples:\n{lines}"


def _call(verb: str, **kwargs: Any) -> None:
    """Run one command module's `run(**kwargs)` inside the error boundary and exit with its code."""
    from rollout.error_handler import boundary
    from rollout.errors import EXIT_OK

    def go() -> int:
        module = importlib.import_module(f"rollout.commands.{verb}")
        try:
            code: int = module.run(**kwargs, clock=_CLOCK.get())
        except BrokenPipeError:  # the reader went away (`| head`): not an error, see views
            from rollout.views import pipe_closed

            pipe_closed()
            return EXIT_OK
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


@app.command(
    help=_help(
        "Check plan files; one line each. Exit 2 if any is invalid. Reads only.",
        "rollout validate plans/*.yaml",
        "rollout validate plan.yaml --var env=prod -o json",
    )
)
def validate(
    plans: Annotated[
        list[Path], typer.Argument(metavar="PLAN", help="Plan files.", show_default=False)
    ],
    var: Vars = None,
    var_file: VarFiles = None,
    output: OutputOpt = Output.text,
) -> None:
    _call("validate", plans=plans, var=var or [], var_file=var_file or [], output=output.value)


@app.command(
    help=_help(
        "Show the compiled steps (like `terraform plan`); nothing moves.",
        "rollout plan examples/quickstart/plan.yaml",
        "rollout plan plan.yaml -o json | jq '.steps | length'",
    )
)
def plan(
    plan_file: PlanArg,
    var: Vars = None,
    var_file: VarFiles = None,
    output: OutputOpt = Output.text,
    state: State = None,
    traffic: TrafficOpt = None,
) -> None:
    _call(
        "plan",
        plan_file=plan_file,
        var=var or [],
        var_file=var_file or [],
        output=output.value,
        state=state,
        traffic=traffic,
    )


@app.command(
    help=_help(
        "Write a commented starter plan.",
        "rollout init",
        "rollout init plans/support-bot.yaml --force",
    )
)
def init(
    path: Annotated[
        Path, typer.Argument(metavar="PATH", help="Where to write the starter plan.")
    ] = Path("plan.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    output: OutputOpt = Output.text,
) -> None:
    _call("init", path=path, force=force, output=output.value)


@app.command(
    help=_help(
        "Run the rollout (or resume it at its recorded step).",
        "rollout apply examples/quickstart/plan.yaml",
        "rollout apply plan.yaml --until pilot      # stop once the pilot has passed",
        "rollout apply plan.yaml --approve -o json  # CI: approve ahead, one JSON document",
    )
)
def apply(
    plan_file: PlanArg,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            metavar="STAGE",
            help="Stop (exit 0) once this stage has passed.",
            show_default=False,
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
    restart: Annotated[
        bool,
        typer.Option(
            "--restart",
            help="A changed plan that cannot continue in place: return the current router to "
            "the baseline and start a new attempt.",
        ),
    ] = False,
    var: Vars = None,
    var_file: VarFiles = None,
    state: State = None,
    output: OutputOpt = Output.text,
) -> None:
    _call(
        "apply",
        plan_file=plan_file,
        until=until,
        approve=approve,
        wait=wait,
        restart=restart,
        var=var or [],
        var_file=var_file or [],
        state=state,
        output=output.value,
    )


@app.command(
    help=_help(
        "Where a rollout is: phase, step, weights, each gate's verdict. Without NAME: every "
        "rollout. With --watch: follow it and exit with its outcome's code (0 completed, "
        "3 rolled back, 4 aborted, 5 waiting).",
        "rollout status quickstart",
        "rollout status quickstart --watch --timeout 30m",
        "rollout status quickstart -o json | jq .phase",
    )
)
def status(
    name: Annotated[
        str | None,
        typer.Argument(metavar="NAME", help="The rollout; all of them if omitted."),
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Follow until it finishes or waits.")
    ] = False,
    timeout: Annotated[
        str | None,
        typer.Option(
            "--timeout",
            metavar="DURATION",
            help="With --watch: give up after this long (30s, 10m, 2h); exit 5.",
            show_default=False,
        ),
    ] = None,
    state: State = None,
    output: OutputOpt = Output.text,
) -> None:
    _call(
        "status",
        name=name,
        watch=watch,
        timeout=_seconds(timeout),
        state=state,
        output=output.value,
    )


def _seconds(text: str | None) -> float | None:
    if text is None:
        return None
    from rollout.durations import parse_duration

    try:
        return float(parse_duration(text))
    except ValueError as exc:
        raise _bad(f"--timeout {text!r}: {exc}") from None


def _bad(message: str) -> Exception:
    from typer._click.exceptions import BadParameter

    return BadParameter(message)


@app.command(
    "list",
    help=_help(
        "Every rollout in the state store.",
        "rollout list",
        "rollout list --state postgresql://rollout@db/rollout -o json",
    ),
)
def list_(state: State = None, output: OutputOpt = Output.text) -> None:
    _call("list_", state=state, output=output.value)


@app.command(
    help=_help(
        "The audit trail: every weight change, verdict and intent, with who and why.",
        "rollout history quickstart",
        "rollout history quickstart -n 10 --all",
    )
)
def history(
    name: NameArg,
    limit: Annotated[
        int, typer.Option("--limit", "-n", metavar="N", help="Most recent events to show.")
    ] = 50,
    all_attempts: Annotated[
        bool, typer.Option("--all", help="Every attempt, not just the latest.")
    ] = False,
    state: State = None,
    output: OutputOpt = Output.text,
) -> None:
    _call(
        "history",
        name=name,
        limit=limit,
        all_attempts=all_attempts,
        state=state,
        output=output.value,
    )


@app.command(
    help=_help(
        "Restore the baseline now, from any machine, and stop the rollout.",
        'rollout abort quickstart --reason "pager: error budget"',
        "rollout abort support-bot --state postgresql://rollout@db/rollout",
        "rollout abort quickstart --plan examples/quickstart/plan.yaml  # the store is down",
    )
)
def abort(
    name: NameArg,
    reason: Reason = None,
    plan_file: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            metavar="PLAN",
            help="The rollout's plan file: restores the baseline even when the state store "
            "cannot be read.",
            show_default=False,
        ),
    ] = None,
    var: Vars = None,
    var_file: VarFiles = None,
    state: State = None,
    output: OutputOpt = Output.text,
) -> None:
    _call(
        "abort",
        name=name,
        reason=reason,
        plan_file=plan_file,
        var=var or [],
        var_file=var_file or [],
        state=state,
        output=output.value,
    )


@app.command(
    help=_help(
        "Hold the rollout at its current weights.",
        'rollout pause quickstart --reason "investigating latency"',
    )
)
def pause(
    name: NameArg, reason: Reason = None, state: State = None, output: OutputOpt = Output.text
) -> None:
    _call("control", name=name, action="pause", reason=reason, state=state, output=output.value)


@app.command(help=_help("Continue a paused rollout.", "rollout resume quickstart"))
def resume(
    name: NameArg, reason: Reason = None, state: State = None, output: OutputOpt = Output.text
) -> None:
    _call("control", name=name, action="resume", reason=reason, state=state, output=output.value)


@app.command(
    help=_help(
        "Approve the waiting approval step, or accept a paused analysis step; with --full, go "
        "to 100 % now.",
        "rollout promote quickstart",
        'rollout promote quickstart --full --reason "hotfix"',
    )
)
def promote(
    name: NameArg,
    full: Annotated[
        bool, typer.Option("--full", help="Skip the remaining steps: go to 100 % now.")
    ] = False,
    reason: Reason = None,
    state: State = None,
    output: OutputOpt = Output.text,
) -> None:
    _call(
        "control",
        name=name,
        action="promote_full" if full else "promote",
        reason=reason,
        state=state,
        output=output.value,
    )


@app.command(
    help=_help(
        "Start a rolled-back or aborted rollout again as a new attempt.",
        'rollout retry quickstart --reason "provider incident, not the candidate"',
    )
)
def retry(
    name: NameArg, reason: Reason = None, state: State = None, output: OutputOpt = Output.text
) -> None:
    _call("retry", name=name, reason=reason, state=state, output=output.value)


@app.command(
    help=_help(
        "Undo a completed rollout: a new rollout (NAME-undo) back to the previous baseline with "
        "the same gates and stages - the stored plan with the variants swapped, written next to "
        "the original plan and started like apply; --write PATH only writes it for review "
        "(its relative paths then start from PATH's directory).",
        "rollout undo support-bot",
        "rollout undo support-bot --write undo.yaml   # review, then: rollout apply undo.yaml",
    )
)
def undo(
    name: NameArg,
    write: Annotated[
        Path | None,
        typer.Option(
            "--write",
            metavar="PATH",
            help="Write the undo plan here; start nothing.",
            show_default=False,
        ),
    ] = None,
    new_name: Annotated[
        str | None,
        typer.Option(
            "--name",
            metavar="NAME",
            help="The undo rollout's name (default NAME-undo).",
            show_default=False,
        ),
    ] = None,
    approve: Annotated[
        bool, typer.Option("--approve", help="Approve every approval step of the undo.")
    ] = False,
    state: State = None,
    output: OutputOpt = Output.text,
) -> None:
    _call(
        "undo",
        name=name,
        write=write,
        new_name=new_name,
        approve=approve,
        state=state,
        output=output.value,
    )


@app.command(
    help=_help(
        "Advance every active rollout (or the named ones) by what is due now, then exit: judge "
        "the data since the last look, shift, roll back. For scheduled jobs (cron, CI, a "
        "Kubernetes CronJob): hour-long bakes without hour-long processes, nothing unwatched "
        "between jobs. Exit 0 (waiting is not a failure), 3 if a rollout was rolled back, 1 on "
        "an error.",
        "rollout reconcile",
        "rollout reconcile support-bot --state postgresql://rollout@db/rollout -o json",
    )
)
def reconcile(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[NAME]...",
            help="Rollouts to advance (default: every active one).",
            show_default=False,
        ),
    ] = None,
    state: State = None,
    output: OutputOpt = Output.text,
) -> None:
    _call("reconcile", names=names or [], state=state, output=output.value)


@app.command(
    help=_help(
        "Drive every active rollout in the store until stopped: replicas against one "
        "PostgreSQL database share the work (each claims due rollouts), with the same leases, "
        "fencing and commit-act-verify as apply. SIGTERM finishes the rollout in hand, then "
        "exits 0. Manifests for Kubernetes, systemd and scheduled jobs: docs/fleet.md.",
        "rollout controller --state postgresql://rollout@db/rollout",
        "rollout controller --exit-when-done -o json",
    )
)
def controller(
    state: State = None,
    output: OutputOpt = Output.text,
    batch: Annotated[
        int, typer.Option("--batch", metavar="N", help="Due rollouts claimed per round trip.")
    ] = 16,
    exit_when_done: Annotated[
        bool, typer.Option("--exit-when-done", help="Exit once no rollout is active.")
    ] = False,
    workers: Annotated[
        int, typer.Option("--workers", metavar="N", help="Rollouts looked at at once.")
    ] = 1,
) -> None:
    _call(
        "controller",
        state=state,
        output=output.value,
        batch=batch,
        exit_when_done=exit_when_done,
        workers=workers,
    )


class Format(StrEnum):
    markdown = "markdown"
    md = "md"
    html = "html"


@app.command(
    help=_help(
        "A summary for people: variants, gates with their evidence, the audit trail.",
        "rollout report quickstart >> $GITHUB_STEP_SUMMARY",
        "rollout report quickstart --format html > report.html",
    )
)
def report(
    name: NameArg,
    fmt: Annotated[
        Format,
        typer.Option("--format", "-f", metavar="markdown|md|html", help="markdown (md) or html."),
    ] = Format.markdown,
    state: State = None,
    output: OutputOpt = Output.text,
) -> None:
    _call("report", name=name, fmt=fmt.value, state=state, output=output.value)


@app.command(
    help=_help(
        "Run every gate's queries once for both variants and print what came back.",
        "rollout check plan.yaml",
        "rollout check plan.yaml -o json | jq '.results[] | select(.status != \"ok\")'",
    )
)
def check(
    plan_file: PlanArg,
    var: Vars = None,
    var_file: VarFiles = None,
    output: OutputOpt = Output.text,
    traffic: TrafficOpt = None,
) -> None:
    _call(
        "check",
        plan_file=plan_file,
        var=var or [],
        var_file=var_file or [],
        output=output.value,
        traffic=traffic,
    )


TrafficOpt = Annotated[
    str | None,
    typer.Option(
        "--traffic",
        metavar="RATE",
        help="Requests per minute to judge the plan at, e.g. 1000/min, 20/s, 60000/h "
        "(default: the plan's simulated source, else the scenario's).",
    ),
]


@app.command(
    help=_help(
        "Run the plan's own engine in virtual time against simulated traffic; report how it "
        "judges.",
        "rollout simulate plan.yaml --scenario error-2x --runs 1000",
        "rollout simulate plan.yaml --scenario my-scenario.yaml -o json",
    )
)
def simulate(
    plan_file: PlanArg,
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario", metavar="NAME|FILE", help="A built-in scenario name or a YAML file."
        ),
    ] = "healthy",
    runs: Annotated[
        int, typer.Option("--runs", metavar="N", help="How many virtual rollouts.")
    ] = 200,
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", help="Random seed (results are reproducible).")
    ] = 1,
    var: Vars = None,
    var_file: VarFiles = None,
    output: OutputOpt = Output.text,
    traffic: TrafficOpt = None,
) -> None:
    _call(
        "simulate",
        plan_file=plan_file,
        scenario=scenario,
        runs=runs,
        seed=seed,
        var=var or [],
        var_file=var_file or [],
        output=output.value,
        traffic=traffic,
    )


# `rollout azure ...`: Azure helpers that are not a rollout verb of their own.
azure_app = typer.Typer(
    help="Azure helpers: `rollout azure upgrades` finds and canaries Azure's own model upgrades.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
upgrades_app = typer.Typer(
    help=_help(
        "Azure OpenAI moves a whole deployment to a new model version by itself "
        "(versionUpgradeOption, retirements): list the deployments it would move and why, and "
        "write a canary plan for one (candidate at the new version, NoAutoUpgrade, baseline "
        "pinned). Read-only against Azure.",
        "rollout azure upgrades list --subscription $SUB -g rg-llm --account aoai-prod",
        "rollout azure upgrades plan gpt4o-support --subscription $SUB -g rg-llm "
        "--account aoai-prod --write upgrade.yaml",
    ),
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
azure_app.add_typer(upgrades_app, name="upgrades")
app.add_typer(azure_app, name="azure")

Subscription = Annotated[
    str,
    typer.Option(
        "--subscription",
        metavar="ID",
        envvar="AZURE_SUBSCRIPTION_ID",
        help="Azure subscription id. Env: AZURE_SUBSCRIPTION_ID.",
        show_default=False,
    ),
]
ResourceGroup = Annotated[
    str,
    typer.Option(
        "--resource-group",
        "-g",
        metavar="NAME",
        envvar="AZURE_RESOURCE_GROUP",
        help="Resource group of the Azure OpenAI account. Env: AZURE_RESOURCE_GROUP.",
        show_default=False,
    ),
]
Account = Annotated[
    str,
    typer.Option("--account", metavar="NAME", help="The Azure OpenAI account.", show_default=False),
]


@upgrades_app.command(
    "list",
    help=_help(
        "The account's deployments with a newer default model version or an upgrade Azure "
        "will make by itself, each with why and when.",
        "rollout azure upgrades list --subscription $SUB -g rg-llm --account aoai-prod",
        "rollout azure upgrades list --account aoai-prod -o json   # ids from the environment",
    ),
)
def azure_upgrades_list(
    subscription: Subscription,
    resource_group: ResourceGroup,
    account: Account,
    output: OutputOpt = Output.text,
) -> None:
    _call(
        "azure_upgrades",
        action="list",
        subscription=subscription,
        resource_group=resource_group,
        account=account,
        output=output.value,
    )


@upgrades_app.command(
    "plan",
    help=_help(
        "The canary plan for one deployment's upgrade: the candidate deployment created at the "
        "new version with NoAutoUpgrade, the baseline pinned meanwhile, error-rate and latency "
        "gates, an APIM router. Printed, or written with --write; review it, then apply it.",
        "rollout azure upgrades plan gpt4o-support --subscription $SUB -g rg-llm "
        "--account aoai-prod --write upgrade.yaml",
        "rollout azure upgrades plan gpt4o-support --account aoai-prod --apim-service apim-prod "
        "--pool aoai-pool > upgrade.yaml",
    ),
)
def azure_upgrades_plan(
    deployment: Annotated[
        str,
        typer.Argument(metavar="DEPLOYMENT", help="The deployment to canary.", show_default=False),
    ],
    subscription: Subscription,
    resource_group: ResourceGroup,
    account: Account,
    write: Annotated[
        Path | None,
        typer.Option("--write", metavar="PATH", help="Write the plan here.", show_default=False),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite PATH.")] = False,
    apim_service: Annotated[
        str, typer.Option("--apim-service", metavar="NAME", help="The APIM service routing.")
    ] = "apim-llm",
    pool: Annotated[
        str, typer.Option("--pool", metavar="NAME", help="The APIM backend pool.")
    ] = "aoai-pool",
    output: OutputOpt = Output.text,
) -> None:
    _call(
        "azure_upgrades",
        action="plan",
        subscription=subscription,
        resource_group=resource_group,
        account=account,
        deployment=deployment,
        write=write,
        force=force,
        apim_service=apim_service,
        pool=pool,
        output=output.value,
    )


def _usage_error(exc: Any) -> int:
    """Bad arguments, in the one error style: `error: ...`, the usage, where help is. Exit 2."""
    if type(exc).__name__ == "NoArgsIsHelpError":  # bare `rollout`: the help is the answer
        exc.show()
        return 2
    ctx = getattr(exc, "ctx", None)
    print(f"error: {exc.format_message()}", file=sys.stderr)
    if ctx is not None:
        print(ctx.get_usage(), file=sys.stderr)
        print(f"Try '{ctx.command_path} -h' for help.", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None, *, clock: Clock | None = None) -> int:
    token = _CLOCK.set(clock)
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
            return _usage_error(exc)
        raise
    finally:
        _CLOCK.reset(token)


if __name__ == "__main__":
    raise SystemExit(main())
