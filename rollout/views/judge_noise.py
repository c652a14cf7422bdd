"""A line per gate whose judge noise was measured from a file (`judge_noise: {repeats: FILE}` or
`{calibration: FILE}`, read at load by rollout.loading.judge_noise), for `plan` and `validate`."""

from __future__ import annotations

from typing import Any

from rollout.spec import PlanSpec


def figures(spec: PlanSpec) -> list[dict[str, Any]]:
    """gate, file, kind, sd, n, bias (None without a calibration set), shared, sha256."""
    out = []
    for g in spec.gates:
        jn = g.judge_noise
        if jn is None or jn.file is None:
            continue
        kind = "repeats" if jn.repeats is not None else "calibration"
        out.append(
            {"gate": g.name, "file": jn.file, "kind": kind, "sd": jn.sd, "n": jn.n}
            | {"bias": jn.bias, "shared": jn.shared, "sha256": jn.sha256}
        )
    return out


def line(f: dict[str, Any]) -> str:
    """'judge-score: judge noise sd 0.082 from 120 repeat grades (grades.jsonl)'; a calibration
    set adds its bias (judge − gold; common to both variants it cancels, so it is reported)."""
    what = "repeat grades" if f["kind"] == "repeats" else "calibration grades"
    text = f"{f['gate']}: judge noise sd {f['sd']:.2g} from {f['n']} {what} ({f['file']})"
    if f["shared"] != 1.0:
        text += f", shared {f['shared']:g}"
    if f["bias"] is not None:
        text += f"; bias {f['bias']:+.2g}"
    return text


def lines(spec: PlanSpec) -> list[str]:
    return [line(f) for f in figures(spec)]
