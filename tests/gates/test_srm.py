"""The split (sample-ratio) check, rollout.gates.srm: on request counts, and on bucket sums of
the sticky key when the source gives them (issue #16: heavy users move the request share)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np

from rollout.gates import detector, srm
from rollout.gates.evaluate import Settings, Tick, evaluate
from rollout.spec import Gate

AT = datetime(2026, 1, 1, tzinfo=UTC)
SEQ = Settings(method="sequential", alpha=0.05)
PLAN = (("pilot", 5), ("expansion", 25), ("expansion", 50))  # 30 one-minute ticks each
GATE = Gate(name="errors", kind="proportion", events="e", total="t", max_ratio=1.0)
THRESHOLD = math.log(1 / srm.SRM_ALPHA)


def sticky(
    rng: np.random.Generator, users: int = 2000, rpm: float = 2000.0, send: float = 1.0
) -> list[Tick]:
    """Sticky users with lognormal request rates (sd 1.5: a few heavy users carry much of the
    traffic), routed by a hash of the key; 64 buckets of an independent hash. `send`: the
    router's actual weight over the one it was told (2.0: a broken router)."""
    rate = rng.lognormal(0.0, 1.5, users)
    rate /= rate.sum()
    h, bucket = rng.random(users), rng.integers(0, 64, users)
    out = []
    for stage, w in PLAN:
        on = h < w / 100 * send
        for _ in range(30):
            n = rng.poisson(rpm * rate)  # each user's requests this minute
            bk: dict[str, list[dict[str, float]]] = {}
            r: dict[str, dict[str, float]] = {}
            for v, sel in (("candidate", on), ("baseline", ~on)):
                nb = np.bincount(bucket[sel], weights=n[sel], minlength=64)
                eb = rng.binomial(nb.astype(int), 0.01)
                r[v] = {"events": float(eb.sum()), "total": float(nb.sum())}
                bk[v] = [
                    {"events": float(e), "total": float(t)} for e, t in zip(eb, nb, strict=True)
                ]
            out.append(Tick(at=AT, stage=stage, weight=w, readings=r, buckets=bk))
    return out


def plain(ticks: list[Tick]) -> list[Tick]:
    return [Tick(at=t.at, stage=t.stage, weight=t.weight, readings=t.readings) for t in ticks]


def run(ticks: list[Tick]) -> tuple[list[dict[str, Any]], list[bool], dict[str, Any]]:
    st: dict[str, Any] = {}
    splits, halts = [], []
    for t in ticks:
        st, v = evaluate(GATE, st, t, SEQ)
        splits.append(v.evidence["srm"])
        halts.append(v.halt)
    return splits, halts, st


def test_heavy_sticky_users_do_not_halt_a_healthy_rollout_with_buckets() -> None:
    halted = skewed = 0
    worst = -math.inf
    for seed in range(30):
        ticks = sticky(np.random.default_rng([seed, 16]))
        splits, halts, _ = run(ticks)
        halted += any(halts)
        worst = max(worst, max(s["log_e"] for s in splits))
        assert {s["unit"] for s in splits} == {"bucket"}
        shares = [s["observed_share"] / s["expected_share"] for s in splits[1:30]]
        skewed += abs(shares[-1] - 1) > 0.2  # the pilot's request share beyond the band
    assert skewed >= 3  # the population is one that moves the request share past the band
    assert halted == 0  # 30 runs at alpha 0.1 %: a halt would be a broken test
    assert worst < THRESHOLD - 3  # and not near it either


def test_a_router_that_sends_twice_its_weight_is_halted_on_bucket_sums() -> None:
    pilot = whole = 0
    for seed in range(8):
        splits, halts, _ = run(sticky(np.random.default_rng([seed, 17]), 20_000, send=2.0))
        pilot += any(halts[:30])
        assert {s["unit"] for s in splits} == {"bucket"}
        # 2,000 users: ~200 on the candidate in the pilot, a few of them carrying most of its
        # requests; the bucket sums honestly cannot tell 2x from chance there, later they do
        _, halts, _ = run(sticky(np.random.default_rng([seed, 18]), send=2.0))
        whole += any(halts)
    assert pilot == 8 and whole == 8
    _, halts, st = run(sticky(np.random.default_rng(3), send=2.0))
    assert st["srm_k"] == sum(halts)  # each halt started the check over on the next share


def test_the_halt_says_the_split_looks_broken() -> None:
    st: dict[str, Any] = {}
    said = []
    for t in sticky(np.random.default_rng(5), 20_000, send=2.0)[:30]:
        st, v = evaluate(GATE, st, t, SEQ)
        if v.halt:
            said.append(v.summary)
    assert said and all("traffic split looks broken" in s for s in said)


def test_a_halt_starts_the_bucket_sums_over() -> None:
    st: dict[str, Any] = {}
    for t in sticky(np.random.default_rng(6), 20_000, send=2.0)[:30]:
        st, v = evaluate(GATE, st, t, SEQ)
        if v.halt:
            b = st["srm_bk"]
            assert b["hi"] == [0.0] * 64 and b["lo"] == [0.0] * 64 and b["rho"] > 0
            return
    raise AssertionError("no halt")


def test_without_buckets_the_check_counts_requests() -> None:
    ticks = plain(sticky(np.random.default_rng(7)))
    splits, _, st = run(ticks)
    assert {s["unit"] for s in splits} == {"request"}
    assert "srm_bk" not in st
    # a broken router without buckets is still halted by the request-level check
    _, halts, _ = run(plain(sticky(np.random.default_rng(8), send=2.0)))
    assert any(halts)


def test_the_unit_is_fixed_by_the_first_tick() -> None:
    ticks = sticky(np.random.default_rng(9))
    splits, _, _ = run([*plain(ticks[:3]), *ticks[3:]])
    assert {s["unit"] for s in splits} == {"request"}
    splits, _, st = run([*ticks[:12], *plain(ticks[12:20]), *ticks[20:]])
    assert {s["unit"] for s in splits} == {"bucket"}
    assert st["srm_bk"]["rho"] is not None  # ticks without buckets gave no evidence, no crash


def test_a_state_from_before_bucket_checks_stays_on_requests() -> None:
    ticks = sticky(np.random.default_rng(10))
    _, _, st = run(plain(ticks[:5]))
    st.pop("srm_unit")  # as stored by a version without the bucket check
    _, v = evaluate(GATE, st, ticks[5], SEQ)
    assert v.evidence["srm"]["unit"] == "request"


def test_no_evidence_before_the_burn_in_and_the_state_is_json() -> None:
    splits, _, st = run(sticky(np.random.default_rng(11), send=3.0)[: srm.SRM_WARMUP + 1])
    # the first tick (a new weight) and SRM_WARMUP ticks of burn-in: an e-value of 1
    assert [s["log_e"] for s in splits] == [detector.log_share(0)] * len(splits)
    assert json.loads(json.dumps(st)) == st


def test_bucket_sums_under_the_null_average_at_most_one() -> None:
    """The e-value on bucket sums, at the band's edge (the worst case of the null), averages
    at most 1 over many runs: the property that makes halting at 1/alpha valid."""
    vals = []
    rng = np.random.default_rng(12)
    for _ in range(200):
        st: dict[str, Any] = {"cum": {}, "srm": srm.blank()}
        w, k = 0.25, 16
        p = w * (1 + srm.SRM_BAND)  # users go to the candidate at the upper edge
        size = rng.lognormal(0.0, 1.0, (k, 40))  # users per bucket, persistent volumes
        on = rng.random((k, 40)) < p
        le = 0.0
        for _t in range(40):
            n = rng.poisson(size * 5)
            split = [(float(n[j][~on[j]].sum()), float(n[j][on[j]].sum())) for j in range(k)]
            out = srm.check(st, 0, 0, w, split)
            le = out["log_e"]
        vals.append(math.exp(le))
    assert float(np.mean(vals)) <= 1.0  # measured: 0.27
