"""Simulated traffic and virtual rollouts: `rollout simulate`, the benchmarks, the `simulated` source."""
