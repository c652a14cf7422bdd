"""`judge_noise: {repeats: FILE}` / `{calibration: FILE}`: the judge's noise measured from a file
next to the plan, read once at load (issue #12 item 5).

The file is JSON (a list of objects) or JSONL (one object a line) of per-item grades:

    {"item": "q1", "score": 0.7}                 repeats: an answer graded 2+ times
    {"item": "q1", "gold": 0.8, "score": 0.7}    calibration: grades of items with gold scores

It is found as prompt files are (relative to the plan's folder, inside it or `prompt_root`,
regular and bounded: `read.plan_file`); its figures (`JudgeNoise.from_repeats` /
`from_calibration`) and its sha256 go into the gate's spec, so the stored plan never needs the
file again and the plan hash changes when the file does. A bad file is a located plan error on
the gate's `judge_noise.repeats` (or `.calibration`) field, exit 2, before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from rollout.errors import Problem, SpecError
from rollout.evaluation.spec import JudgeNoiseSpec
from rollout.loading import read
from rollout.loading.diagnostics import Locator, field_path
from rollout.spec import PlanSpec

MIN_ITEMS = 10  # an sd from fewer items is itself too noisy to widen a gate by
MAX_BYTES = 4 * 1024 * 1024


def resolve(spec: PlanSpec, plan_dir: Path, locator: Locator, name: str) -> PlanSpec:
    """`spec` with every judge_noise file read into its figures; SpecError (located) if a file
    is bad. Figures already written (a stored plan written out, e.g. by `rollout undo`) are
    measured again: the file must still have the sha256 they carry."""
    root = plan_dir / spec.prompt_root if spec.prompt_root else plan_dir
    gates = list(spec.gates)
    problems: list[Problem] = []
    for i, gate in enumerate(gates):
        jn = gate.judge_noise
        if jn is None or jn.file is None:
            continue
        key = "repeats" if jn.repeats is not None else "calibration"
        loc: tuple[str | int, ...] = ("gates", i, "judge_noise", key)
        try:
            raw = read.plan_file(jn.file, plan_dir, root, f"{key} file", MAX_BYTES)
            noise = figures(raw, jn.file, key, jn.shared)
        except ValueError as exc:
            problems.append(_problem(loc, str(exc), locator, name))
            continue
        digest = hashlib.sha256(raw).hexdigest()
        if jn.sha256 is not None and jn.sha256 != digest:  # a stored plan written out (undo)
            loc = ("gates", i, "judge_noise", "sha256")
            msg = (
                f"{jn.file} has changed since this plan was written (sha256 {jn.sha256[:12]}, "
                f"now {digest[:12]}); remove sd, n, bias and sha256 to measure it again"
            )
            problems.append(_problem(loc, msg, locator, name))
            continue
        filled = jn.model_copy(update={"bias": None, **noise, "sha256": digest})
        gates[i] = gate.model_copy(
            update={"judge_noise": JudgeNoiseSpec.model_validate(filled.model_dump())}
        )
    if problems:
        raise SpecError(problems)
    return spec.model_copy(update={"gates": gates})


def figures(raw: bytes, shown: str, key: str, shared: float) -> dict[str, Any]:
    """sd, n (and bias) of a repeats or calibration file's bytes; ValueError names the file."""
    from rollout.evaluation.online import JudgeNoise

    records = _records(raw, shown)
    grades: dict[str, list[float]] = {}
    gold: dict[str, float] = {}
    for where, rec in records:
        item = rec.get("item")
        if not isinstance(item, str | int) or isinstance(item, bool) or item == "":
            raise ValueError(f"{shown} {where}: item must be a string naming the graded item")
        grades.setdefault(str(item), []).append(_number(rec, "score", shown, where))
        if key == "calibration":
            g = _number(rec, "gold", shown, where)
            if gold.setdefault(str(item), g) != g:
                raise ValueError(f"{shown} {where}: item {item!r} has two gold scores")
    if key == "repeats":
        graded = sum(len(v) >= 2 for v in grades.values())
        if graded < MIN_ITEMS:
            raise ValueError(
                f"{shown}: {graded} item{'s' * (graded != 1)} graded twice or more; "
                f"repeat grading needs at least {MIN_ITEMS}"
            )
        noise = JudgeNoise.from_repeats(grades, shared=shared)
        return {"sd": noise.sd, "n": noise.n}
    if len(gold) < MIN_ITEMS:
        raise ValueError(
            f"{shown}: {len(gold)} gold items; a calibration set needs at least {MIN_ITEMS}"
        )
    noise = JudgeNoise.from_calibration(gold, grades, shared=shared)
    return {"sd": noise.sd, "n": noise.n, "bias": noise.bias}


def _records(raw: bytes, shown: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{shown}: not UTF-8 text ({exc.reason})") from None
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None  # JSONL, line by line
    else:
        if isinstance(whole, list):
            out = [(f"entry {k}", r) for k, r in enumerate(whole, 1)]
            return [(w, _object(r, shown, w)) for w, r in out]
        if isinstance(whole, dict):
            return [("line 1", whole)]
    lines: list[tuple[str, dict[str, Any]]] = []
    for k, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{shown} line {k}: not JSON ({exc.args[0][:80]})") from None
        lines.append((f"line {k}", _object(rec, shown, f"line {k}")))
    if not lines:
        raise ValueError(f"{shown}: no grades (JSON list or JSONL of per-item grades)")
    return lines


def _object(rec: Any, shown: str, where: str) -> dict[str, Any]:
    if not isinstance(rec, dict):
        raise ValueError(
            f'{shown} {where}: a grade is an object like {{"item": "q1", "score": 0.7}}'
        )
    return rec


def _number(rec: dict[str, Any], field: str, shown: str, where: str) -> float:
    x = rec.get(field)
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        got = "missing" if x is None else f"{json.dumps(x)[:40]}"
        raise ValueError(f"{shown} {where}: {field} is not a number ({got})")
    return float(x)


def _problem(loc: tuple[str | int, ...], msg: str, locator: Locator, name: str) -> Problem:
    line, col = locator.find(loc)
    return Problem(name, line, col, field_path(loc), msg)
