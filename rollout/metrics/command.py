"""Metrics source `command`: run an evaluation command per variant and read numbers from its JSON.

    sources:
      eval:
        type: command
        command: [python, evals/score.py]   # argv list, or one shell string: "pytest evals && ..."
        timeout: 10m
        env: {EVAL_SAMPLES: "200"}          # extra, non-secret environment
    gates:
      - {name: eval-pass-rate, kind: proportion, source: eval,
         events: "{{ variant }}.failed", total: "{{ variant }}.n", max_increase: 0.05}
      - {name: eval-score, kind: mean, source: eval, count: "{{ variant }}.n",
         sum: "{{ variant }}.score * {{ variant }}.n",
         sum_squares: "{{ variant }}.score_sum_squares", max_decrease: 0.2}
      - {name: eval-score-floor, kind: value, source: eval, query: "{{ variant }}.score", min: 4.0}

The command runs in the plan's directory with ROLLOUT_VARIANT, ROLLOUT_TARGET, ROLLOUT_MODEL,
ROLLOUT_MODEL_VERSION, ROLLOUT_WINDOW_START / ROLLOUT_WINDOW_END (ISO 8601 UTC),
ROLLOUT_WINDOW_SECONDS, ROLLOUT_PLAN and ROLLOUT_QUERY (the query that triggered the run) in
its environment, and prints one JSON object on stdout (the whole output, or its last line),
e.g. `{"score": 4.2, "n": 120}` or `{"events": 3, "total": 120}`; nested objects are fine.

A query is a small arithmetic expression (+ - * / ** and parentheses, numbers) over fields of
that JSON, each written `VARIANT.field` (or `VARIANT.a.b`, or `VARIANT["odd-name"]`): the
variant is part of the query so that each rendered query says which variant's run it reads;
write it as `{{ variant }}.field`. The command runs once per (variant, window): a gate's
several roles (events and total, count/sum/sum_squares) read the same run.

Outcomes: a number -> the value; `null`, NaN or a division by zero -> NoData (inconclusive);
a non-zero exit, a timeout, output that is not a JSON object, a missing or non-numeric field
-> ProviderError. A failing evaluation is never a pass.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from rollout.durations import parse_duration
from rollout.errors import ProviderError
from rollout.metrics import Window
from rollout.metrics.command_query import evaluate, parse_query
from rollout.redact import redact_text
from rollout.registry import BuildContext

_CACHE_SIZE = 16  # (variant, window) runs kept; a tick needs two


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command: str | list[str] = Field(min_length=1)
    timeout: Annotated[int, BeforeValidator(parse_duration)] = Field(default=600, gt=0)
    cwd: str | None = None  # relative to the plan file; default: the plan's directory
    env: dict[str, str] = Field(default_factory=dict)


class CommandSource:
    def __init__(
        self, config: Config, *, cwd: Path, variants: dict[str, dict[str, Any]], plan_name: str = ""
    ) -> None:
        self.config = config
        self.cwd = cwd
        self.variants = variants
        self.plan_name = plan_name
        self.runs = 0  # how many times the command actually ran (the cache is observable)
        self._cache: OrderedDict[tuple[str, str, str], dict[str, Any] | ProviderError] = (
            OrderedDict()
        )

    # -- the MetricsSource protocol -----------------------------------------------------------
    def query(self, query: str, window: Window) -> float:
        tree, variant = parse_query(query)
        output = self._output(variant, window, query)
        return evaluate(tree.body, output, query)

    def check(self) -> None:
        """The working directory exists and the program can be found (the eval is not run)."""
        if not self.cwd.is_dir():
            raise ProviderError(f"command source: working directory {self.cwd} does not exist")
        if isinstance(self.config.command, str):
            return  # a shell string: /bin/sh resolves it at run time
        prog = self.config.command[0]
        if "/" in prog:
            p = Path(prog) if Path(prog).is_absolute() else self.cwd / prog
            if not (p.is_file() and os.access(p, os.X_OK)):
                raise ProviderError(f"command source: {p} is not an executable file")
        elif shutil.which(prog, path=self._env(None, None, "").get("PATH")) is None:
            raise ProviderError(f"command source: {prog!r} is not on PATH")

    # -- running ------------------------------------------------------------------------------
    def _output(self, variant: str, window: Window, query: str) -> dict[str, Any]:
        key = (variant, window.start.isoformat(), window.end.isoformat())
        if key not in self._cache:
            try:
                self._cache[key] = self._run(variant, window, query)
            except ProviderError as exc:  # remembered too: a failed eval is not re-run per role
                self._cache[key] = exc
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        got = self._cache[key]
        if isinstance(got, ProviderError):
            raise got
        return got

    def _env(self, variant: str | None, window: Window | None, query: str) -> dict[str, str]:
        env = {**os.environ, **self.config.env}
        if variant is not None and window is not None:
            info = self.variants.get(variant) or {}
            env.update(
                {
                    "ROLLOUT_VARIANT": variant,
                    "ROLLOUT_TARGET": str(info.get("target") or variant),
                    "ROLLOUT_MODEL": str(info.get("model") or ""),
                    "ROLLOUT_MODEL_VERSION": str(info.get("model_version") or ""),
                    "ROLLOUT_WINDOW_START": window.start.isoformat(),
                    "ROLLOUT_WINDOW_END": window.end.isoformat(),
                    "ROLLOUT_WINDOW_SECONDS": str(window.seconds),
                    "ROLLOUT_PLAN": self.plan_name,
                    "ROLLOUT_QUERY": query,
                }
            )
        return env

    def _run(self, variant: str, window: Window, query: str) -> dict[str, Any]:
        cmd = self.config.command
        argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        shown = _short(cmd if isinstance(cmd, str) else " ".join(cmd))
        self.runs += 1
        try:
            # A session of its own, so that a timeout kills the whole tree (shell + children).
            proc = subprocess.Popen(
                argv,
                cwd=self.cwd,
                env=self._env(variant, window, query),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise ProviderError(
                f"command source: cannot run {shown!r}: {exc.strerror or exc}"
            ) from None
        try:
            out, err = proc.communicate(timeout=self.config.timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.communicate()
            raise ProviderError(
                f"command source: {shown!r} for {variant} ran longer than "
                f"{self.config.timeout}s and was stopped"
            ) from None
        if proc.returncode != 0:
            tail = _tail(err.decode(errors="replace")) or _tail(out.decode(errors="replace"))
            raise ProviderError(
                f"command source: {shown!r} for {variant} exited with code {proc.returncode}"
                + (f": {tail}" if tail else "")
            )
        return _parse_output(out.decode(errors="replace"), shown, variant)


def _parse_output(text: str, shown: str, variant: str) -> dict[str, Any]:
    """The JSON object: the whole of stdout, or else its last non-empty line (logs before it)."""
    candidates = [text.strip()]
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if lines:
        candidates.append(lines[-1].strip())
    for c in candidates:
        try:
            doc = json.loads(c)
        except ValueError:
            continue
        if isinstance(doc, dict):
            return doc
    raise ProviderError(
        f"command source: {shown!r} for {variant} did not print a JSON object on stdout "
        f"(got: {_short(text) or '<nothing>'})"
    )


def _short(text: str, limit: int = 200) -> str:
    text = redact_text(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _tail(text: str, lines: int = 5) -> str:
    return _short(" | ".join(ln for ln in text.strip().splitlines()[-lines:] if ln.strip()), 400)


def build(config: Config, ctx: BuildContext) -> CommandSource:
    cwd = ctx.plan_dir if config.cwd is None else (ctx.plan_dir / config.cwd)
    return CommandSource(config, cwd=cwd, variants=ctx.variants, plan_name=ctx.plan_name)
