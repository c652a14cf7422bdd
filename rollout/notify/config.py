"""The plan's `notify:` section (pydantic only: imported by rollout.spec, so nothing heavy here).

    notify:
      - {type: slack, url_env: SLACK_WEBHOOK}
      - {type: teams, url_env: TEAMS_WEBHOOK, on: [rolled_back, aborted, awaiting_approval]}
      - {type: webhook, url_env: HOOK_URL, headers_env: {Authorization: HOOK_AUTH}, timeout: 2s}

A webhook URL is a credential (whoever has it can post to the channel), so it never appears in
the plan: `url_env` names the environment variable that holds it, read when a message is sent.
`headers_env` maps header names to environment variables the same way.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from rollout.durations import parse_duration

# What a notification can be about, in the order a rollout meets them.
KINDS = (
    "stage_advanced",
    "awaiting_approval",
    "no_data",
    "rolled_back",
    "aborted",
    "completed",
)
Kind = Literal[
    "stage_advanced", "awaiting_approval", "no_data", "rolled_back", "aborted", "completed"
]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]


def _seconds(v: Any) -> Any:
    return parse_duration(v) if isinstance(v, str) else v


class NotifyTarget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    type: Literal["slack", "teams", "webhook"]
    url_env: EnvName  # the variable that holds the webhook URL (never the URL itself)
    headers_env: dict[str, EnvName] = Field(default_factory=dict, max_length=20)
    on: list[Kind] | None = None  # default: every kind
    # The most a notification may take, retries included (seconds, or a duration like "3s").
    timeout: Annotated[float, BeforeValidator(_seconds)] = Field(default=3.0, gt=0, le=30)
    retries: int = Field(default=2, ge=0, le=5)  # extra attempts, within the timeout

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: Any) -> Any:
        """YAML 1.1 reads a bare `on:` key as the boolean true (as GitHub's workflows know)."""
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if k is True else k): v for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _headers(self) -> NotifyTarget:
        if self.headers_env and self.type != "webhook":
            raise ValueError("headers_env applies to type: webhook only")
        return self

    def wants(self, kind: str) -> bool:
        return self.on is None or kind in self.on
