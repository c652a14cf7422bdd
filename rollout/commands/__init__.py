"""One module per verb; each exposes `run(...) -> int` (an exit code)."""
