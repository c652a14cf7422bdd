"""LLM-native gates: the built-in signals (`signal: error-rate` ...), their queries per metrics
source, pricing and the cost model, and the units their numbers are shown in.

`rollout.llm.catalog.expand_signals` runs while a plan is validated (rollout.spec), so a gate
that names a signal is an ordinary proportion / mean / value gate by the time it is compiled.
"""
