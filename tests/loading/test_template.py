"""rollout.loading.template: the bounded sandbox and the opt-in environment."""

from __future__ import annotations

from typing import Any

import pytest

from rollout.errors import SpecError
from rollout.loading import template
from rollout.loading.template import EnvView, listed_env, render, secret_looking


def out(text: str, **ctx: Any) -> str:
    return render(text, "p.yaml", {"env": EnvView({}, []), **ctx})


def refused(text: str, *, whole: bool = False, **ctx: Any) -> str:
    """The message; located at a line unless the problem is the whole render (`whole`)."""
    with pytest.raises(SpecError) as info:
        out(text, **ctx)
    [p] = info.value.problems
    assert p.file == "p.yaml" and (whole or p.line is not None)
    return p.message


def test_plain_yaml_is_not_rendered() -> None:
    assert out("a: 1 # {not jinja}\n") == "a: 1 # {not jinja}\n"


def test_ordinary_templates_still_work() -> None:
    text = (
        "{% for w in [5, 25, 50] %}- {{ w * 2 }}\n{% endfor %}{{ 'a' ~ 'b' }} {{ range(3)|list }}"
    )
    assert out(text) == "- 10\n- 50\n- 100\nab [0, 1, 2]"


def test_the_loop_budget_covers_all_loops_together() -> None:
    assert "loops more than 100,000 times" in refused(
        "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}"
    )
    assert "loops more than" in refused(
        "{% for a in [1,2,3,4,5,6,7,8,9,10] %}{% for b in [1,2,3,4,5,6,7,8,9,10] %}"
        "{% for c in range(10000) %}{% endfor %}{% endfor %}{% endfor %}"
    )


def test_each_render_has_its_own_budget() -> None:
    text = "{% for i in range(9000) %}{% endfor %}" * 10  # 90,000: within one budget
    for _ in range(3):
        assert out(text) == ""


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("{{ range(20000)|length }}", "range() of 20,000 items"),
        ("{{ range(10**12) }}", "at most 1,000,000"),
        ("{{ 2 ** 65 }}", "exponent too large"),
        ("{{ 'ab' * 600000 }}", "'*' would build 1,200,000"),
        ("{{ [1] * 2000000 }}", "'*' would build"),
        ("{% set a = 'x' * 700000 %}{{ a + a }}", "'+' would build"),
        ("{% set a = 'x' * 700000 %}{{ a ~ a }}", "'~' would build"),
        ("{{ 'x'.center(5000000) }}", "at most 1,000,000"),
        ("{{ '%9999999d' % 1 }}", "format width"),
        ("{{ '{:>9999999}'.format(1) }}", "would build"),
        ("{{ 'x' | indent(9999999) }}", "at most 1,000,000"),
        ("{{ ('x' * 900000) | replace('x', 'xx') }}", "the replace filter would build"),
        ("{% include 'a' %}", "{% include %} is not allowed"),
        ("{% import 'a' as b %}", "{% import %} is not allowed"),
        ("{% extends 'a' %}", "{% extends %} is not allowed"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recursion too deep"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
    ],
)
def test_budgets_and_refusals(expr: str, fragment: str) -> None:
    assert fragment in refused(expr)


@pytest.mark.parametrize("name", ["lipsum", "cycler", "joiner", "namespace"])
def test_only_range_and_dict_are_global(name: str) -> None:
    assert f"undefined template variable {name!r}" in refused("{{ " + name + "() }}")


def test_the_rendered_text_is_capped() -> None:
    text = "{% for i in range(2000) %}" + "x" * 1000 + "{% endfor %}"
    assert "the rendered plan would build" in refused(text, whole=True)


def test_the_deadline_stops_what_no_budget_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The timer is made to expire at once (no dependence on how fast this machine renders):
    the SIGALRM deadline must stop a render that no budget counts."""
    import os
    import signal

    real = signal.setitimer

    def expire_at_once(which: int, seconds: float, interval: float = 0.0) -> tuple[float, float]:
        old = real(which, 0)
        if seconds > 0:
            os.kill(os.getpid(), signal.SIGALRM)
        return old

    monkeypatch.setattr(template, "DEADLINE_S", 0.05)
    monkeypatch.setattr(template.signal, "setitimer", expire_at_once)
    slow = "{% for i in range(10000) %}{{ (range(10000)|list)|sort|first }}{% endfor %}"
    message = refused(slow, whole=True)
    assert "rendering took over 0.05s" in message


# -- the environment ---------------------------------------------------------------------------


def env_out(text: str, env: dict[str, str], listed: list[str]) -> str:
    return render(text, "p.yaml", {"env": EnvView(env, listed)})


def test_listed_names_and_the_prefix_are_readable() -> None:
    env = {"REGION": "eu", "ROLLOUT_VAR_TEAM": "ml", "HOME": "/root"}
    assert env_out("{{ env.REGION }}-{{ env.ROLLOUT_VAR_TEAM }}", env, ["REGION"]) == "eu-ml"
    assert env_out("{{ env.MISSING | default('d') }}", env, ["MISSING"]) == "d"


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("{{ env.HOME }}", "env.HOME is not listed"),
        ("{{ env['HOME'] }}", "env.HOME is not listed"),
        ("{{ env.get('HOME') }}", "env.get is not listed"),
        ("{{ env }}", "not a mapping"),
        ("{{ env | list }}", "not a mapping"),
        ("{{ env | tojson }}", "template error"),
        ("{% for k in env %}{{ k }}{% endfor %}", "not a mapping"),
        ("{{ env.DB_PASSWORD }}", "looks like a secret"),
    ],
)
def test_the_environment_is_opt_in(expr: str, fragment: str) -> None:
    env = {"HOME": "/root", "DB_PASSWORD": "hunter22"}
    with pytest.raises(SpecError) as info:
        env_out(expr, env, ["DB_PASSWORD"])
    assert fragment in str(info.value)
    assert "hunter22" not in str(info.value) and "/root" not in str(info.value)


def test_listed_env_reads_the_literal_list_before_rendering() -> None:
    assert listed_env("name: x\nenv: [A, 'B']  # c\n") == ["A", "B"]
    assert listed_env("env:\n  - A\n  # note\n  - B\nname: x\n") == ["A", "B"]
    assert listed_env("name: x\n  env: [NESTED]\n") == []


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("GITHUB_TOKEN", True),
        ("DB_PASSWORD", True),
        ("OPENAI_API_KEY", True),
        ("AZURE_CLIENT_SECRET", True),
        ("PG_PASS", True),
        ("AWS_SESSION_TOKEN", True),
        ("REGION", False),
        ("AZURE_SUBSCRIPTION_ID", False),
        ("MONKEY_COUNT", False),
        ("DESIGN_NAME", False),
    ],
)
def test_secret_looking_names(name: str, secret: bool) -> None:
    assert secret_looking(name) is secret
