from __future__ import annotations

import hashlib
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from rollout.client import BUCKETS, Choice, Routes, bucket, parse
from rollout.records import Weights
from rollout.routers.file import FileRouter

KEYS = [f"user-{i}" for i in range(20_000)]
VARIANTS = {
    "baseline": {"target": "gpt4o", "model": "gpt-4o"},
    "candidate": {"target": "gpt41", "model": "gpt-4.1"},
}


class Clock:
    """Injected monotonic seconds."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def router(tmp_path: Path) -> FileRouter:
    return FileRouter(tmp_path / "routes.json", VARIANTS, {"candidate": "c" * 64}, "support-bot")


@pytest.fixture
def clock() -> Clock:
    return Clock()


def on_candidate(routes: Routes, keys: list[str]) -> set[str]:
    return {k for k in keys if routes.choose(k).variant == "candidate"}


def test_bucket_is_the_documented_stable_hash() -> None:
    # The contract apps in other languages reimplement: pinned, so a change cannot slip in.
    digest = hashlib.sha256(b"support-bot\nuser-42").digest()
    assert bucket("support-bot", "user-42") == int.from_bytes(digest[:8], "big") % 10_000
    assert (
        bucket("support-bot", "user-42") == 9198
    )  # printf 'support-bot\nuser-42' | sha256sum, first 8 bytes mod 10000
    assert all(0 <= bucket("r", k) < BUCKETS for k in KEYS[:1000])


def test_sticky_while_weights_grow(router: FileRouter, clock: Clock) -> None:
    routes = Routes(router.path, clock=clock)
    previous: set[str] = set()
    for w in (5, 25, 50, 100):
        router.set_weights(Weights.of(w))
        clock.t += 1.0
        now = on_candidate(routes, KEYS)
        assert routes.weights == {"baseline": 100 - w, "candidate": w}
        assert previous <= now, f"{len(previous - now)} keys left the candidate at {w}%"
        previous = now
    assert len(previous) == len(KEYS)  # at 100 % everyone is on the candidate


def test_choice_is_stable_across_instances(router: FileRouter) -> None:
    router.set_weights(Weights.of(5))
    a, b = Routes(router.path), Routes(router.path)
    assert on_candidate(a, KEYS[:2000]) == on_candidate(b, KEYS[:2000])


@pytest.mark.parametrize("w", [5, 30, 50])
def test_even_split_within_four_sigma(router: FileRouter, w: int) -> None:
    router.set_weights(Weights.of(w))
    n, p = len(KEYS), w / 100
    got = len(on_candidate(Routes(router.path), KEYS))
    sigma = math.sqrt(n * p * (1 - p))
    assert abs(got - n * p) < 4 * sigma, (
        f"{got} of {n} on the candidate at {w}% (expected {n * p:.0f} ± {4 * sigma:.0f})"
    )


def test_rollout_name_salts_the_pilot(tmp_path: Path) -> None:
    a = FileRouter(tmp_path / "a.json", name="bot-a")
    b = FileRouter(tmp_path / "b.json", name="bot-b")
    a.set_weights(Weights.of(50))
    b.set_weights(Weights.of(50))
    sa, sb = on_candidate(Routes(a.path), KEYS), on_candidate(Routes(b.path), KEYS)
    # Independent halves overlap on about a quarter of the keys, not on all of them.
    assert abs(len(sa & sb) / len(KEYS) - 0.25) < 0.02


def test_no_key_picks_by_weight(router: FileRouter) -> None:
    router.set_weights(Weights.of(5))
    draws = iter([0.0499, 0.05, 0.9999])
    routes = Routes(router.path, rand=lambda: next(draws))
    assert [routes.choose().variant for _ in range(3)] == ["candidate", "baseline", "baseline"]
    rng = random.Random(7)
    routes = Routes(router.path, rand=rng.random)
    n = 20_000
    got = sum(routes.choose().variant == "candidate" for _ in range(n))
    assert abs(got - n * 0.05) < 4 * math.sqrt(n * 0.05 * 0.95)


def test_extremes(router: FileRouter, clock: Clock) -> None:
    routes = Routes(router.path, clock=clock)
    router.set_weights(Weights.of(0))
    clock.t += 1
    assert on_candidate(routes, KEYS[:2000]) == set()
    assert routes.choose().variant == "baseline"
    router.set_weights(Weights.of(100))
    clock.t += 1
    assert len(on_candidate(routes, KEYS[:2000])) == 2000
    assert routes.choose() == Choice("candidate", "gpt41", "gpt-4.1", None, "c" * 64)


def test_reload_on_change_waits_for_the_interval(router: FileRouter, clock: Clock) -> None:
    router.set_weights(Weights.of(5))
    routes = Routes(router.path, clock=clock, check_interval=1.0)
    assert routes.weights["candidate"] == 5 and routes.revision == 1
    router.set_weights(Weights.of(50))
    clock.t += 0.5
    routes.choose("k")
    assert routes.weights["candidate"] == 5, "no stat before check_interval has passed"
    clock.t += 0.5
    routes.choose("k")
    assert routes.weights["candidate"] == 50 and routes.revision == 2


def test_unchanged_file_is_not_reread(
    router: FileRouter, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    router.set_weights(Weights.of(5))
    routes = Routes(router.path, clock=clock)
    calls: list[Any] = []
    real = json.loads

    def counting(*a: Any, **k: Any) -> Any:
        calls.append(a)
        return real(*a, **k)

    monkeypatch.setattr(json, "loads", counting)
    for _ in range(5):
        clock.t += 1
        routes.choose("k")
    assert calls == []
    assert routes.reload(force=True) and len(calls) == 1


def test_no_file_means_baseline_until_one_appears(router: FileRouter, clock: Clock) -> None:
    routes = Routes(router.path, clock=clock, baseline_target="gpt4o")
    assert routes.choose("user-1") == Choice("baseline", "gpt4o")
    assert routes.choose() == Choice("baseline", "gpt4o")
    router.set_weights(Weights.of(100))
    clock.t += 1
    assert routes.choose("user-1").target == "gpt41"


@pytest.mark.parametrize(
    "bad",
    [
        "",  # truncated to nothing
        '{"schema": "rollout.routes/v1", "variants": [{"name": "baseline", "wei',  # half written
        "[]",
        '{"schema": "rollout.routes/v2", "variants": []}',
        json.dumps(
            {
                "schema": "rollout.routes/v1",
                "variants": [
                    {"name": "baseline", "weight": 60},
                    {"name": "candidate", "weight": 60},
                ],
            }
        ),
        json.dumps(
            {
                "schema": "rollout.routes/v1",
                "variants": [
                    {"name": "baseline", "weight": True},
                    {"name": "candidate", "weight": 99},
                ],
            }
        ),
    ],
)
def test_survives_a_corrupt_file(router: FileRouter, clock: Clock, bad: str) -> None:
    router.set_weights(Weights.of(25))
    routes = Routes(router.path, clock=clock)
    before = on_candidate(routes, KEYS[:2000])
    router.path.write_text(bad)
    clock.t += 1
    assert on_candidate(routes, KEYS[:2000]) == before, "the last good routes stay in force"
    assert routes.last_error is not None and str(router.path) in routes.last_error
    router.set_weights(Weights.of(50))  # repaired: taken at the next check
    clock.t += 1
    routes.choose("k")
    assert routes.weights["candidate"] == 50 and routes.last_error is None


def test_a_deleted_file_means_baseline_as_the_router_reads_it(
    router: FileRouter, clock: Clock
) -> None:
    router.set_weights(Weights.of(25))
    routes = Routes(router.path, clock=clock)
    assert on_candidate(routes, KEYS[:2000])
    router.path.unlink()
    clock.t += 1
    assert on_candidate(routes, KEYS[:2000]) == set()  # everyone on the baseline...
    assert routes.choose("k") == Choice("baseline", "gpt4o", "gpt-4o", None, None)  # by name
    assert routes.last_error is not None and "missing" in routes.last_error  # ...and said why
    assert router.get_weights() == Weights.all_baseline()  # what the tool reads: the same
    router.set_weights(Weights.of(50))  # written again: taken at the next check
    clock.t += 1
    assert routes.choose("k") and routes.weights["candidate"] == 50
    assert routes.last_error is None


def _routes_doc(**extra: Any) -> dict[str, Any]:
    return {
        "schema": "rollout.routes/v1",
        "variants": [
            {"name": "baseline", "weight": 50, "target": "a"},
            {"name": "candidate", "weight": 50, "target": "b"},
        ],
        **extra,
    }


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ("[" * 100_000, "nested deeper than 16 levels"),
        (json.dumps(_routes_doc(x=[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]])), "nested deeper"),
        (json.dumps(_routes_doc(pad="x" * (1024 * 1024))), "routes files are at most"),
    ],
    ids=["100k-brackets", "deep-extra-key", "over-1MiB"],
)
def test_oversized_or_deep_files_keep_the_last_good_routes(
    router: FileRouter, clock: Clock, payload: str, why: str
) -> None:
    router.set_weights(Weights.of(25))
    routes = Routes(router.path, clock=clock)
    before = on_candidate(routes, KEYS[:2000])
    router.path.write_text(payload)
    clock.t += 1
    assert on_candidate(routes, KEYS[:2000]) == before  # no exception, same routes
    assert routes.last_error is not None and why in routes.last_error


def test_choose_never_raises_whatever_fails(router: FileRouter) -> None:
    router.set_weights(Weights.of(25))

    def broken_clock() -> float:
        raise OSError("clock gone")

    routes = Routes(router.path, clock=broken_clock)  # the first reload fails too
    assert routes.choose("k").variant == "baseline"
    assert routes.last_error is not None and "clock gone" in routes.last_error
    ok = Routes(router.path)
    assert ok.choose(12345).variant in ("baseline", "candidate")  # type: ignore[arg-type]


def test_a_directory_or_fifo_in_place_of_the_file_is_an_error_not_a_hang(
    tmp_path: Path, clock: Clock
) -> None:
    import os

    fifo = tmp_path / "routes.json"
    os.mkfifo(fifo)  # opening a FIFO for reading would block: its size is 0, it is not read
    routes = Routes(fifo, clock=clock)
    assert routes.choose("k").variant == "baseline"
    (tmp_path / "dir.json").mkdir()
    routes = Routes(tmp_path / "dir.json", clock=clock)
    assert routes.choose("k").variant == "baseline" and routes.last_error is not None


def test_parse_rejects_unknown_variant_sets() -> None:
    doc = {"schema": "rollout.routes/v1", "variants": [{"name": "baseline", "weight": 100}]}
    with pytest.raises(ValueError, match="exactly baseline and candidate"):
        parse(doc)


def test_client_imports_only_the_standard_library() -> None:
    import ast
    import sys

    tree = ast.parse(Path("rollout/client.py").read_text())
    mods = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    mods |= {
        n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
    }
    assert mods <= set(sys.stdlib_module_names) | {"__future__"}, mods


# --- property: whatever bytes the routes file holds, choose() answers and never raises -------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-200, 200) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@st.composite
def routes_bytes(draw: st.DrawFn) -> bytes:
    doc = _routes_doc()
    choice = draw(st.sampled_from(["mutate", "garbage", "brackets"]))
    if choice == "mutate":
        where = draw(st.sampled_from(["top", "variant"]))
        target = doc if where == "top" else doc["variants"][draw(st.integers(0, 1))]
        target[draw(st.sampled_from(["schema", "weight", "name", "target", "variants", "x"]))] = (
            draw(_JSONISH)
        )
        return json.dumps(doc).encode()
    if choice == "brackets":
        return draw(st.sampled_from([b"[", b"{", b'"', b"\\", b"]"])) * draw(st.integers(0, 5000))
    return draw(st.binary(max_size=200))


@pytest.mark.slow  # over a second: fuzzed routes files
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=routes_bytes())
def test_fuzzed_routes_files_never_raise(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "fuzz.json"
    path.write_bytes(json.dumps(_routes_doc()).encode())
    clock = Clock()
    routes = Routes(path, clock=clock)
    path.write_bytes(raw)
    clock.t += 1
    choice = routes.choose("user-1")  # must not raise
    assert choice.variant in ("baseline", "candidate")
    if routes.last_error is None:  # taken: it was a valid document
        assert sum(routes.weights.values()) == 100
    else:  # refused: the last good routes (50/50) stay
        assert routes.weights == {"baseline": 50, "candidate": 50}


def test_bucket_label_is_the_documented_hash_independent_of_routing(router: FileRouter) -> None:
    from rollout.client import LABEL_BUCKETS, bucket_label

    digest = hashlib.sha256(b"support-bot\nuser-42").digest()
    assert bucket_label("support-bot", "user-42") == str(int.from_bytes(digest[8:16], "big") % 64)
    assert (
        bucket_label("support-bot", "user-42") == "47"
    )  # printf ... | sha256sum, bytes 8-16 mod 64
    router.set_weights(Weights.of(10))
    routes = Routes(router.path)
    cand = on_candidate(routes, KEYS)
    labels = {k: routes.bucket_label(k) for k in KEYS}
    assert set(labels.values()) == {str(i) for i in range(LABEL_BUCKETS)}
    # every label holds candidate users near the weight (10 %): the label is not the route
    for lab in map(str, range(LABEL_BUCKETS)):
        users = [k for k in KEYS if labels[k] == lab]
        share = sum(k in cand for k in users) / len(users)
        assert abs(share - 0.1) < 4 * math.sqrt(0.09 / len(users)), (lab, share)
    assert routes.bucket_label("user-42") == bucket_label("support-bot", "user-42")
