"""rollout: progressive delivery of LLM model and prompt versions."""

from __future__ import annotations

__version__ = "0.1.0"
