"""`judge_noise: {repeats: FILE}` / `{calibration: FILE}`: the file is read at load, its figures
and sha256 go into the stored spec (the plan hash follows the file), and a bad file is a located
plan error (exit 2, nothing written)."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import pytest

from rollout.cli import main
from rollout.clock import FakeClock
from rollout.errors import SpecError
from rollout.evaluation.online import JudgeNoise
from rollout.evaluation.spec import JudgeNoiseSpec
from rollout.loading import load
from rollout.records import Plan

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "judge_noise"

PLAN = """\
apiVersion: rollout/v1
kind: Plan
name: judged
variants: {{baseline: {{model: a}}, candidate: {{model: b}}}}
router: {{type: file, path: routes.json}}
metrics: {{type: simulated}}
gates:
  - name: judge-score
    kind: mean
    count: c{{variant="{{{{ variant }}}}"}}
    sum: s{{variant="{{{{ variant }}}}"}}
    sum_squares: q{{variant="{{{{ variant }}}}"}}
    max_decrease: 0.05
    judge_noise: {noise}
stages: [{{name: pilot, weight: 5, bake: 2m}}, {{name: full, weight: 100}}]
"""
LINE = 14  # the judge_noise line of PLAN


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for f in FIXTURES.iterdir():
        shutil.copy(f, tmp_path / f.name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROLLOUT_STATE", raising=False)
    return tmp_path


def write(folder: Path, noise: str) -> Path:
    plan = folder / "plan.yaml"
    plan.write_text(PLAN.format(noise=noise))
    return plan


def grades(path: Path) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        out.setdefault(rec["item"], []).append(rec["score"])
    return out


def test_repeat_grades_are_read_at_load_into_sd_n_and_the_files_sha256(folder: Path) -> None:
    loaded = load(write(folder, "{repeats: repeats.jsonl}"))
    jn = loaded.plan.spec.gates[0].judge_noise
    assert jn is not None and jn.repeats == "repeats.jsonl"
    expected = JudgeNoise.from_repeats(grades(folder / "repeats.jsonl"))
    assert jn.sd == pytest.approx(expected.sd) and 0.06 < expected.sd < 0.09
    assert jn.n == 120 and jn.bias is None
    assert jn.sha256 == hashlib.sha256((folder / "repeats.jsonl").read_bytes()).hexdigest()


def test_a_calibration_set_gives_the_judges_noise_and_bias(folder: Path) -> None:
    loaded = load(write(folder, "{calibration: calibration.json, shared: 0.5}"))
    jn = loaded.plan.spec.gates[0].judge_noise
    assert jn is not None and jn.shared == 0.5 and jn.n == 60
    rows = json.loads((folder / "calibration.json").read_text())
    errors = [r["score"] - r["gold"] for r in rows]
    bias = math.fsum(errors) / len(errors)
    sd = math.sqrt(math.fsum((e - bias) ** 2 for e in errors) / (len(errors) - 1))
    assert jn.bias == pytest.approx(bias) and jn.sd == pytest.approx(sd)


def test_the_stored_plan_needs_no_file_and_its_hash_follows_the_file(folder: Path) -> None:
    plan = write(folder, "{repeats: repeats.jsonl}")
    first = load(plan).plan
    stored = Plan.model_validate_json(first.model_dump_json())
    (folder / "repeats.jsonl").unlink()  # the stored plan never reads it again
    assert stored.spec.gates[0].judge_noise == first.spec.gates[0].judge_noise
    assert stored.plan_hash == first.plan_hash
    lines = (FIXTURES / "repeats.jsonl").read_text().splitlines()
    lines[0] = json.dumps({"item": "q1", "score": 0.1})  # one grade changed
    (folder / "repeats.jsonl").write_text("\n".join(lines) + "\n")
    again = load(plan).plan
    assert again.plan_hash != first.plan_hash
    sd_before = first.spec.gates[0].judge_noise.sd  # type: ignore[union-attr]
    assert again.spec.gates[0].judge_noise.sd != sd_before  # type: ignore[union-attr]


def test_a_stated_sd_dumps_and_hashes_as_before() -> None:
    assert JudgeNoiseSpec.model_validate({"sd": 0.05}).model_dump() == {"sd": 0.05, "shared": 1.0}


def test_validate_and_plan_show_what_was_measured(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = write(folder, "{calibration: calibration.json}")
    assert main(["validate", str(plan)]) == 0
    out = capsys.readouterr().out
    assert "judge-score: judge noise sd 0.049 from 60 calibration grades (calibration.json)" in out
    assert "; bias +0.014" in out
    assert main(["plan", str(plan), "-o", "json"], clock=FakeClock()) == 0
    doc = json.loads(capsys.readouterr().out)
    (fig,) = doc["judge_noise"]
    assert fig["gate"] == "judge-score" and fig["kind"] == "calibration" and fig["n"] == 60


def problem(folder: Path, noise: str) -> str:
    with pytest.raises(SpecError) as exc:
        load(write(folder, noise))
    (p,) = exc.value.problems
    return str(p)


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("not json at all\n", "repeats.jsonl line 1: not JSON"),
        ('{"item": "q1", "score": 0.5}\n' * 3, "1 item graded twice or more"),
        ('{"item": "q1", "score": "high"}\n', 'line 1: score is not a number ("high")'),
        ('{"item": "q1", "score": null}\n', "line 1: score is not a number (missing)"),
        ('{"item": "q1", "score": true}\n', "line 1: score is not a number (true)"),
        ('{"score": 0.5}\n', "line 1: item must be a string"),
        ("[1, 2]", "entry 1: a grade is an object"),
        ("\n\n", "no grades"),
    ],
)
def test_a_bad_repeats_file_is_a_located_plan_error(folder: Path, content: str, said: str) -> None:
    (folder / "repeats.jsonl").write_text(content)
    text = problem(folder, "{repeats: repeats.jsonl}")
    assert f"plan.yaml:{LINE}:" in text and "gates[0].judge_noise.repeats" in text
    assert said in text


def test_too_few_repeat_items_names_the_minimum(folder: Path) -> None:
    rows = [{"item": f"q{i}", "score": s} for i in range(9) for s in (0.5, 0.6)]
    (folder / "repeats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = problem(folder, "{repeats: repeats.jsonl}")
    assert "9 items graded twice or more; repeat grading needs at least 10" in text


def test_a_calibration_item_needs_a_numeric_gold_score(folder: Path) -> None:
    (folder / "cal.json").write_text(json.dumps([{"item": "g1", "score": 0.5, "gold": "x"}]))
    text = problem(folder, "{calibration: cal.json}")
    assert "gates[0].judge_noise.calibration" in text and "entry 1: gold is not a number" in text


@pytest.mark.parametrize(
    ("noise", "said"),
    [
        ("{repeats: missing.jsonl}", "repeats file not found"),
        ("{repeats: ../outside.jsonl}", "is outside"),
        ("{repeats: repeats.jsonl, sd: 0.1}", "exactly one of sd, repeats or calibration"),
        ("{repeats: repeats.jsonl, calibration: calibration.json}", "exactly one of"),
        ("{shared: 0.5}", "exactly one of sd, repeats or calibration"),
        ("{sd: 0.1, n: 10}", "n is computed from a file at load"),
        (
            "{repeats: repeats.jsonl, sd: 0.1, n: 3, sha256: " + "ab" * 32 + "}",
            "sha256: repeats.jsonl has changed since this plan was written (sha256 abababababab",
        ),
        ("{repeats: repeats.jsonl, sha256: " + "ab" * 32 + "}", "sha256 is filled at load"),
    ],
)
def test_a_missing_file_or_a_mixed_statement_is_a_located_plan_error(
    folder: Path, noise: str, said: str
) -> None:
    text = problem(folder, noise)
    assert f"plan.yaml:{LINE}:" in text and "gates[0].judge_noise" in text and said in text


def test_apply_with_a_bad_file_exits_2_and_writes_nothing(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "repeats.jsonl").write_text('{"item": "q1", "score": 0.5}\n')
    plan = write(folder, "{repeats: repeats.jsonl}")
    state = f"sqlite:///{folder / 'state.db'}"
    assert main(["apply", str(plan), "--state", state], clock=FakeClock()) == 2
    assert "gates[0].judge_noise.repeats" in capsys.readouterr().err
    assert not (folder / "state.db").exists() and not (folder / "routes.json").exists()


def test_a_stored_plan_written_out_loads_again_while_its_file_is_unchanged(folder: Path) -> None:
    """`rollout undo` writes the stored spec (figures and sha256 included) as a plan file."""
    import yaml

    first = load(write(folder, "{calibration: calibration.json}")).plan
    doc = first.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    again = folder / "again.yaml"
    again.write_text("{% raw %}\n" + yaml.safe_dump(doc, sort_keys=False) + "{% endraw %}\n")
    reloaded = load(again).plan
    assert reloaded.spec.gates[0].judge_noise == first.spec.gates[0].judge_noise
    assert reloaded.plan_hash == first.plan_hash
    (folder / "calibration.json").write_text(
        json.dumps(json.loads((folder / "calibration.json").read_text())[1:])
    )
    with pytest.raises(SpecError) as exc:
        load(again)
    assert "judge_noise.sha256: calibration.json has changed" in str(exc.value.problems[0])
