"""Router `file`: a routes JSON file the application reads (see rollout.client)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from rollout.errors import ProviderError
from rollout.model import Weights
from rollout.registry import BuildContext

SCHEMA = "rollout.routes/v1"


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str  # relative to the plan file


class FileRouter:
    def __init__(self, path: Path, variants: dict[str, dict[str, Any]] | None = None, fingerprints: dict[str, str] | None = None, name: str = "") -> None:
        self.path = path
        self.variants = variants or {}
        self.fingerprints = fingerprints or {}
        self.name = name

    def get_weights(self) -> Weights:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return Weights.all_baseline()  # no file yet: the app serves the baseline
        except (OSError, ValueError) as exc:
            raise ProviderError(f"routes file {self.path} unreadable: {exc}") from exc
        try:
            w = {v["name"]: int(v["weight"]) for v in data["variants"]}
            return Weights(baseline=w.get("baseline", 0), candidate=w.get("candidate", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderError(f"routes file {self.path} is not a rollout routes file: {exc}") from exc

    def set_weights(self, weights: Weights) -> None:
        try:
            old = json.loads(self.path.read_text())
            revision = int(old.get("revision", 0)) + 1
        except (OSError, ValueError, AttributeError):
            revision = 1
        doc = {
            "schema": SCHEMA,
            "rollout": self.name,
            "revision": revision,
            "variants": [
                {
                    "name": v,
                    "weight": getattr(weights, v),
                    "target": (self.variants.get(v) or {}).get("target") or v,
                    "model": (self.variants.get(v) or {}).get("model"),
                    "model_version": (self.variants.get(v) or {}).get("model_version"),
                    "fingerprint": self.fingerprints.get(v),
                }
                for v in ("baseline", "candidate")
            ],
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
            with os.fdopen(fd, "w") as f:
                json.dump(doc, f, indent=2)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)  # atomic: readers see the old file or the new one
        except OSError as exc:
            raise ProviderError(f"cannot write routes file {self.path}: {exc}") from exc


def build(config: Config, ctx: BuildContext) -> FileRouter:
    p = Path(config.path)
    return FileRouter(p if p.is_absolute() else ctx.plan_dir / p, ctx.variants, ctx.fingerprints, ctx.plan_name)
