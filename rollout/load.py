"""The old name of `rollout.loading` (kept so that existing imports keep working)."""

from rollout.loading import (
    QUERY_PLACEHOLDERS,
    RUNTIME_PLACEHOLDERS,
    Loaded,
    Loader,
    data_of,
    load,
    parse_vars,
    parse_yaml,
    problems_from,
    render,
    validate,
)

__all__ = [
    "QUERY_PLACEHOLDERS",
    "RUNTIME_PLACEHOLDERS",
    "Loaded",
    "Loader",
    "data_of",
    "load",
    "parse_vars",
    "parse_yaml",
    "problems_from",
    "render",
    "validate",
]
