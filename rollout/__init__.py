"""rollout: progressive delivery of LLM model and prompt versions.

Installed as the distribution `rollout-llm` (the name `rollout` on PyPI is someone else's); the
import package and the command are `rollout`. `__version__` is the one version source:
pyproject.toml reads it (setuptools dynamic version) and `rollout --version` prints it.
"""

from __future__ import annotations

__version__ = "0.1.0"
