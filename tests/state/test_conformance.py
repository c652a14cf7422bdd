"""Runs the StateStore conformance suite (conformance.py) against every backend in conftest.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

# Loaded by path under a unique name: another test directory may have its own conformance.py.
_spec = importlib.util.spec_from_file_location(
    "tests_state_conformance", Path(__file__).with_name("conformance.py")
)
assert _spec is not None and _spec.loader is not None
_suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_suite)

globals().update({k: v for k, v in vars(_suite).items() if k.startswith("test_")})
