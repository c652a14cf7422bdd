"""What rollout ships for testing: fakes, and the conformance suites a plugin must pass.

`from rollout.testing import FakeRouter, ScriptedSource, rates, tiny_spec, tiny_plan` gives the
fakes. The suites live in their own modules, one per plugin kind, so importing this package
needs neither pytest nor any provider's SDK:

    rollout.testing.routers      Router           RouterConformance / check_router
    rollout.testing.metrics      MetricsSource    MetricsSourceConformance / check_metrics_source
    rollout.testing.deployments  DeploymentManager DeploymentConformance / check_deployments
    rollout.testing.state        StateStore       StateStoreConformance / check_state_store

Each offers a pytest base class (subclass it, give it one fixture) and a plain function that
runs the same checks and raises AssertionError on the first that does not hold. See
docs/plugins.md.
"""

from __future__ import annotations

from rollout.testing.fakes import (
    FakeRouter,
    ScriptedSource,
    rates,
    scripted_providers,
    tiny_plan,
    tiny_spec,
)

__all__ = ["FakeRouter", "ScriptedSource", "rates", "scripted_providers", "tiny_plan", "tiny_spec"]
