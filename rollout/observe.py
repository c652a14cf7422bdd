"""The one observation path: metrics -> readings -> Tick, shared by `apply` and `simulate`.

Both drivers of the engine hand `read_tick` a `fetch(variant, role) -> float`; everything that
turns missing or broken data into a reading is decided here, once, so the tool that tunes a plan
judges exactly like the tool that runs it:

* NoData for the candidate: no data for the gate in this window (inconclusive, a gap).
* NoData for the baseline: tolerated (a 100 % stage has no baseline traffic); absolute bounds
  still judge the candidate.
* a failed query (ProviderError, InvalidInput): a source error; never a pass.
* an impossible reading (events > total, negative, NaN, inf): a source error with the numbers.
* a gate with `settle:` is read over its request-time window (TickRequest.windows, from the
  engine), and not read at all while nothing in it has settled: no reading, never a pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rollout.engine.types import Observation, TickRequest, Wants, gate_specs
from rollout.errors import InvalidInput, NoData, ProviderError, RolloutError
from rollout.gates.evaluate import Tick
from rollout.gates.readings import problem as impossible
from rollout.metrics import Window
from rollout.records import Plan, Weights
from rollout.spec import Gate

if TYPE_CHECKING:
    from rollout.providers import Providers

Fetch = Callable[[str, str], float]  # (variant, role) -> value; raises NoData / ProviderError
# (variant, role) -> {bucket label value: value}, for `bucket_by` gates on sources that can split
FetchBy = Callable[[str, str], dict[str, float]]


def read_tick(
    gate: Gate,
    variants: Iterable[str],
    fetch: Fetch,
    *,
    at: datetime,
    stage: str,
    weight: int,
    fetch_by: FetchBy | None = None,
) -> Tick:
    roles = tuple(gate.queries())
    readings: dict[str, dict[str, float]] = {}
    split: dict[str, dict[str, dict[str, float]]] = {}  # variant -> role -> bucket -> value
    for variant in variants:
        try:
            if fetch_by is not None:  # the totals are the buckets' sums
                split[variant] = {
                    role: {k: float(v) for k, v in fetch_by(variant, role).items()}
                    for role in roles
                }
                values = {role: sum(split[variant][role].values()) for role in roles}
            else:
                values = {role: float(fetch(variant, role)) for role in roles}
        except NoData:
            if variant == "candidate":
                return Tick(at=at, stage=stage, weight=weight, readings=None)
            continue
        except (ProviderError, InvalidInput) as exc:
            return Tick(at=at, stage=stage, weight=weight, readings=None, error=str(exc))
        except (TypeError, ValueError) as exc:  # a source that returned something not a number
            error = f"{gate.name}: the {variant} query returned a value that is not a number: {exc}"
            return Tick(at=at, stage=stage, weight=weight, readings=None, error=error)
        problem = impossible(gate, variant, values)  # a source error, never evidence
        if problem is not None:
            return Tick(at=at, stage=stage, weight=weight, readings=None, error=problem)
        readings[variant] = values
    if gate.judge_noise is not None and gate.kind == "mean":  # the judge's noise widens the tick
        from rollout.evaluation.online import JudgeNoise, inflate

        noise = JudgeNoise(sd=gate.judge_noise.stated_sd(), shared=gate.judge_noise.shared)
        readings = inflate(readings, noise)
    buckets = _buckets(gate, split, roles) if split else None
    return Tick(at=at, stage=stage, weight=weight, readings=readings, buckets=buckets)


def _buckets(
    gate: Gate, split: dict[str, dict[str, dict[str, float]]], roles: tuple[str, ...]
) -> dict[str, list[dict[str, float]]] | None:
    """Per variant, one reading per bucket (the union of the labels seen, in label order; a
    bucket a variant has no series for reads 0). An impossible bucket: no bucket data at all,
    the tick is judged on its totals (and its verdict says so)."""
    keys = sorted({k for by_role in split.values() for vals in by_role.values() for k in vals})
    out: dict[str, list[dict[str, float]]] = {}
    for variant, by_role in split.items():
        rows = [{role: by_role[role].get(k, 0.0) for role in roles} for k in keys]
        if any(impossible(gate, variant, r) is not None for r in rows):
            return None
        out[variant] = rows
    return out


class Observer:
    """apply's side of the path: the router's weights (and served split), preflight checks, and
    each gate's queries rendered per variant and sent to its metrics source."""

    def __init__(self, plan: Plan, providers: Providers, emit: Callable[[str, str], None]) -> None:
        self.plan = plan
        self.providers = providers
        self._emit = emit

    def observe(self, wants: Wants) -> Observation:
        weights = self.providers.router.get_weights()
        preflight = self._preflight(weights) if wants.preflight else None
        ticks = self.ticks(wants.tick) if wants.tick is not None else {}
        served, causes = self._served(wants.tick) if wants.tick is not None else (None, ())
        return Observation(
            weights=weights, ticks=ticks, preflight=preflight, served=served, causes=causes
        )

    def _served(self, req: TickRequest) -> tuple[Weights | None, tuple[str, ...]]:
        """What the router says it served in the window (routers that can tell: ServedSplit)."""
        from rollout.routers import ServedSplit

        router = self.providers.router
        if not isinstance(router, ServedSplit):
            return None, ()
        try:
            return router.served(Window(req.start, req.end)), tuple(router.causes())
        except RolloutError as exc:
            self._emit("served", f"the router could not say what it served: {exc}")
            return None, ()

    def _preflight(self, weights: Weights) -> dict[str, str]:
        checks = {"router": f"reachable ({weights})"}
        for name, source in self.providers.sources.items():
            source.check()
            checks[f"metrics{':' + name if name else ''}"] = "reachable"
        if self.providers.deployments is not None:
            first = next((s.weight for s in self.plan.steps if s.kind == "set_weight"), 100)
            checks.update(self.providers.deployments.preflight(Weights.of(first or 100)))
        return checks

    def ticks(self, req: TickRequest) -> dict[str, Tick]:
        from rollout.metrics.render import render_query

        arrived = Window(req.start, req.end)
        gates = gate_specs(self.plan)
        interval = self.plan.spec.analysis.interval
        variants = self.providers.ctx.variants
        out: dict[str, Tick] = {}
        for name in req.gates:
            gate = gates[name]
            window = arrived
            if name in req.windows:  # `settle:` by request time (evaluation.online)
                span = req.windows[name]
                if span is None:  # nothing has settled yet: no reading (and no gap)
                    continue
                window = Window(*span)
            source = self.providers.source_for(gate)
            roles = gate.queries()

            def fetch(
                variant: str,
                role: str,
                roles: dict[str, str] = roles,
                src: Any = source,
                window: Window = window,
            ) -> float:
                info = variants[variant]
                q = render_query(
                    roles[role],
                    variant=variant,
                    target=info["target"],
                    window=window,
                    model=info.get("model") or "",
                    model_version=info.get("model_version"),
                    stage=req.stage,
                    interval=interval,
                )
                return float(src.query(q, window))

            fetch_by: FetchBy | None = None
            if gate.bucket_by and hasattr(source, "query_by"):

                def fetch_by(
                    variant: str,
                    role: str,
                    roles: dict[str, str] = roles,
                    src: Any = source,
                    label: str = gate.bucket_by,
                    window: Window = window,
                ) -> dict[str, float]:
                    info = variants[variant]
                    q = render_query(
                        roles[role],
                        variant=variant,
                        target=info["target"],
                        window=window,
                        model=info.get("model") or "",
                        model_version=info.get("model_version"),
                        stage=req.stage,
                        interval=interval,
                    )
                    got: dict[str, float] = src.query_by(q, window, label)
                    return got

            out[name] = read_tick(
                gate,
                variants,
                fetch,
                at=req.end,
                stage=req.stage,
                weight=req.weight,
                fetch_by=fetch_by,
            )
        return out
