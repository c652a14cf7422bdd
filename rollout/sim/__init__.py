"""Simulated traffic and virtual rollouts.

For `rollout simulate`, the benchmarks and the `simulated` metrics source.
"""
