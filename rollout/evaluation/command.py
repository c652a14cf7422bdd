"""Run the plan's eval command once per variant over the dataset and read its per-item scores.

The command runs in the plan's directory (or `evaluate.cwd`) with, besides the caller's
environment and `evaluate.env`:

    ROLLOUT_STAGE=evaluate        ROLLOUT_PLAN          ROLLOUT_VARIANT (baseline | candidate)
    ROLLOUT_TARGET                ROLLOUT_MODEL         ROLLOUT_MODEL_VERSION
    ROLLOUT_PROMPT (absolute path of the variant's prompt file, or empty)
    ROLLOUT_PARAMS (the variant's params as JSON)     ROLLOUT_FINGERPRINT
    ROLLOUT_DATASET (absolute path of the dataset)

as `rollout.metrics.command` passes a variant to its command. A non-zero exit, a timeout (the
whole process group is killed), output that holds no per-item scores or a malformed score: the
variant has no scores and the evaluation is never a pass. Error messages carry the tail of
stderr, masked (`redact_text`); the environment itself is never echoed.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rollout.evaluation import scores as scores_mod
from rollout.evaluation.spec import EvaluateSpec
from rollout.evaluation.types import EvaluationRun, VariantRun
from rollout.redact import redact_text

VARIANTS = ("baseline", "candidate")
MAX_OUTPUT = 256 * 1024 * 1024  # bytes of stdout read; more is an error
MAX_DATASET_SCAN = 64 * 1024 * 1024  # a dataset larger than this is hashed but not read for ids


def run_evaluation(
    spec: EvaluateSpec,
    *,
    plan_dir: Path,
    plan_name: str,
    variants: Mapping[str, Mapping[str, Any]],
    fingerprints: Mapping[str, str],
    emit: Callable[[str, str], None] = lambda kind, msg: None,
) -> EvaluationRun:
    dataset = dataset_path(spec, plan_dir)
    sha, ids = _dataset_facts(dataset)
    metrics = sorted({g.metric for g in spec.gates})
    runs: dict[str, VariantRun] = {}
    for v in VARIANTS:
        emit("evaluate", f"evaluate: running the eval command for the {v} ({_shown(spec)})")
        env = variant_env(spec, v, variants.get(v) or {}, plan_dir, plan_name, fingerprints)
        runs[v] = run_one(spec, v, env, cwd=work_dir(spec, plan_dir), metrics=metrics)
        if runs[v].error is not None:
            break  # no scores for one side: the other's run would not be judged
    return EvaluationRun(runs=runs, dataset=spec.dataset, dataset_sha256=sha, dataset_ids=ids)


def dataset_path(spec: EvaluateSpec, plan_dir: Path) -> Path:
    p = Path(spec.dataset)
    return p if p.is_absolute() else plan_dir / p


def work_dir(spec: EvaluateSpec, plan_dir: Path) -> Path:
    return plan_dir if spec.cwd is None else plan_dir / spec.cwd


def variant_env(
    spec: EvaluateSpec,
    variant: str,
    info: Mapping[str, Any],
    plan_dir: Path,
    plan_name: str,
    fingerprints: Mapping[str, str],
) -> dict[str, str]:
    prompt = info.get("prompt")
    return {
        **os.environ,
        **spec.env,
        "ROLLOUT_STAGE": "evaluate",
        "ROLLOUT_PLAN": plan_name,
        "ROLLOUT_VARIANT": variant,
        "ROLLOUT_TARGET": str(info.get("target") or variant),
        "ROLLOUT_MODEL": str(info.get("model") or ""),
        "ROLLOUT_MODEL_VERSION": str(info.get("model_version") or ""),
        "ROLLOUT_PROMPT": str((plan_dir / prompt).resolve()) if prompt else "",
        "ROLLOUT_PARAMS": json.dumps(info.get("params") or {}, sort_keys=True),
        "ROLLOUT_FINGERPRINT": str(fingerprints.get(variant) or ""),
        "ROLLOUT_DATASET": str(dataset_path(spec, plan_dir).resolve()),
    }


def run_one(
    spec: EvaluateSpec, variant: str, env: dict[str, str], *, cwd: Path, metrics: list[str]
) -> VariantRun:
    cmd = spec.command
    argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
    shown = _shown(spec)
    try:
        # A session of its own, so that a timeout kills the whole tree (shell + children).
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        return VariantRun(variant, error=f"cannot run {shown!r}: {exc.strerror or exc}")
    try:
        out, err = proc.communicate(timeout=spec.timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        return VariantRun(
            variant,
            error=f"{shown!r} for the {variant} ran longer than {spec.timeout}s and was stopped",
        )
    except BaseException:  # Ctrl-C, SIGTERM (signals.Interrupted): no eval left running behind
        _kill(proc)
        raise
    if proc.returncode != 0:
        tail = _tail(err.decode(errors="replace")) or _tail(out.decode(errors="replace"))
        return VariantRun(
            variant,
            error=f"{shown!r} for the {variant} exited with code {proc.returncode}"
            + (f": {tail}" if tail else ""),
        )
    if len(out) > MAX_OUTPUT:
        return VariantRun(variant, error=f"{shown!r} for the {variant} printed over 256 MiB")
    try:
        got = scores_mod.parse(out.decode(errors="replace"), metrics)
    except scores_mod.MalformedScores as exc:
        return VariantRun(
            variant, error=f"{shown!r} for the {variant} printed unusable scores: {exc}"
        )
    items = len(next(iter(got.values()))) if got else 0
    return VariantRun(variant, scores=got, items=items)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """The whole process group (a shell and what it started), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.communicate()


def _dataset_facts(path: Path) -> tuple[str | None, tuple[str, ...] | None]:
    """sha256 of the dataset (into the evidence), and its item ids when it lists them."""
    try:
        data = path.read_bytes()
    except OSError:
        return None, None
    sha = hashlib.sha256(data).hexdigest()
    if len(data) > MAX_DATASET_SCAN:
        return sha, None
    return sha, dataset_ids(data.decode(errors="replace"))


def dataset_ids(text: str) -> tuple[str, ...] | None:
    """Item ids of a JSON lines dataset (every non-empty line an object with an id), or of a
    JSON list / {"items": [...]} of such objects; None when it is not of that shape."""
    items: list[Any] = []
    try:
        doc = json.loads(text)
        if isinstance(doc, dict):
            doc = doc.get("items")
        if not isinstance(doc, list):
            return None
        items = doc
    except ValueError:
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except ValueError:
                return None
    ids: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            return None
        try:
            ids.append(scores_mod.id_of(item, i))
        except scores_mod.MalformedScores:
            return None
    if not ids or len(set(ids)) != len(ids):
        return None
    return tuple(ids)


def _shown(spec: EvaluateSpec) -> str:
    cmd = spec.command
    return _short(cmd if isinstance(cmd, str) else " ".join(cmd))


def _short(text: str, limit: int = 200) -> str:
    text = redact_text(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _tail(text: str, lines: int = 5) -> str:
    return _short(" | ".join(ln for ln in text.strip().splitlines()[-lines:] if ln.strip()), 400)
