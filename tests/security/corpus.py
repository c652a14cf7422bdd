"""The hostile-plan corpus: every class of bad plan found by trying `rollout` as an attacker
and as a careless user would (issue #11), with the words the refusal must contain.

A case is a plan text (built from HOSTILE_BASE), optional extra CLI arguments, the fragment the
message must contain, and whether the problem has a line in the plan (a file-level problem,
such as a plan over the size limit, names only the file). `setup` prepares the plan folder
(FIFOs, symlinks, big files) before the case runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HOSTILE_BASE = """\
apiVersion: rollout/v1
kind: Plan
name: hostile
variants:
  baseline: {model: gpt-4o, prompt: prompts/v1.md}
  candidate: {model: gpt-4.1, prompt: prompts/v2.md}
router: {type: file, path: routes/app.json}
metrics: {type: simulated}
gates:
  - name: err
    kind: proportion
    events: 'errors{v="{{ variant }}"}'
    total: 'requests{v="{{ variant }}"}'
    max_ratio: 1.5
stages:
  - {name: pilot, weight: 5, bake: 1m}
  - {name: full, weight: 100}
"""


def sub(old: str, new: str, text: str = HOSTILE_BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def name_is(expr: str) -> str:
    return sub("name: hostile", f'name: "{expr}"')


def with_description(expr: str) -> str:
    return sub("name: hostile", f"name: hostile\ndescription: {expr}")


def baseline_prompt(path: str, extra: str = "") -> str:
    return sub("prompt: prompts/v1.md}", f"prompt: {path}}}{extra}")


def _aliases(levels: int, prefix: str = "a", indent: str = "") -> str:
    lines = [f"{indent}{prefix}0: &{prefix}0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        refs = ", ".join([f"*{prefix}{i - 1}"] * 10)
        lines.append(f"{indent}{prefix}{i}: &{prefix}{i} [{refs}]")
    return "\n".join(lines) + "\n"


def _fifo(d: Path) -> None:
    os.mkfifo(d / "prompts" / "pipe.md")


def _symlink_out(d: Path) -> None:
    (d / "prompts" / "link.md").symlink_to("/etc/passwd")


def _symlink_zero(d: Path) -> None:
    (d / "prompts" / "zero.md").symlink_to("/dev/zero")


def _big_prompt(d: Path) -> None:
    (d / "prompts" / "big.md").write_bytes(b"x" * (2 * 1024 * 1024))


def _plan_fifo(d: Path) -> None:
    (d / "plan.yaml").unlink()
    os.mkfifo(d / "plan.yaml")


@dataclass(frozen=True)
class Case:
    text: str
    fragment: str
    args: tuple[str, ...] = ()
    line: bool = True  # the message names a line and column in the plan
    setup: Callable[[Path], None] | None = field(default=None, compare=False)
    env: dict[str, str] = field(default_factory=dict)


NESTED_FOR = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}demo"
DOUBLING = "{% set a = 'x' * 1000 %}" + "{% set a = a ~ a %}" * 40 + "{{ a }}"

CASES: dict[str, Case] = {
    # -- YAML --
    "alias chain in params": Case(
        sub("variants:", "x-shared:\n" + _aliases(9, indent="  ") + "variants:").replace(
            "candidate: {model: gpt-4.1,", "candidate: {model: gpt-4.1, params: {p: *a8},"
        ),
        "YAML aliases expand to more than 100,000 nodes",
    ),
    "alias chain in an extra key": Case(
        HOSTILE_BASE + "extra:\n" + _aliases(9, indent="  "),
        "YAML aliases expand to more than 100,000 nodes",
    ),
    "recursive alias": Case(HOSTILE_BASE + "loop: &l [*l]\n", "refers to itself"),
    "100,000 nested brackets": Case(HOSTILE_BASE + "deep: " + "[" * 100_000 + "\n", "YAML"),
    # -- templates: budgets --
    "nested for over range(10000)": Case(name_is(NESTED_FOR), "loops more than 100,000 times"),
    "for over range(100000)": Case(
        name_is("{% for i in range(100000) %}{% endfor %}demo"), "range() of 100,000 items"
    ),
    "range(10**12)": Case(name_is("{{ range(10**12) | length }}"), "at most 1,000,000"),
    "10**100000": Case(name_is("{{ 10**100000 }}"), "exponent too large"),
    "string times a million": Case(name_is("{{ 'x' * 2000000 }}"), "would build 2,000,000"),
    "doubling with set": Case(name_is(DOUBLING), "would build"),
    "replace growth": Case(
        name_is("{% set a = 'x' * 100000 %}{{ a | replace('x', 'xxxxxxxxxxxxxxxxxxxx') }}"),
        "the replace filter would build",
    ),
    "ljust(10**9)": Case(name_is("{{ 'a'.ljust(10**9) }}"), "at most 1,000,000"),
    "format width": Case(name_is("{{ '%999999999s' % 'a' }}"), "format width"),
    "recursive macro": Case(
        name_is("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}"), "recursion too deep"
    ),
    # -- templates: other files --
    "include": Case(name_is("{% include 'x.yaml' %}"), "{% include %} is not allowed"),
    "import": Case(HOSTILE_BASE + "{% import 'x.yaml' as x %}\n", "{% import %} is not allowed"),
    "from import": Case(
        HOSTILE_BASE + "{% from 'x.yaml' import y %}\n", "{% from ... import %} is not allowed"
    ),
    "extends": Case("{% extends 'x.yaml' %}\n" + HOSTILE_BASE, "{% extends %} is not allowed"),
    # -- templates: sandbox gadgets --
    "__mro__": Case(name_is("{{ ''.__class__.__mro__ }}"), "unsafe"),
    "__subclasses__": Case(name_is("{{ ().__class__.__base__.__subclasses__() }}"), "unsafe"),
    "cycler globals": Case(name_is("{{ cycler.__init__.__globals__ }}"), "unsafe"),
    "joiner globals": Case(name_is("{{ joiner.__init__.__globals__.os }}"), "unsafe"),
    "namespace": Case(name_is("{{ namespace(a=1).__init__ }}"), "namespace"),
    "lipsum": Case(name_is("{{ lipsum(n=100000) }}"), "lipsum"),
    "attr() chain": Case(
        name_is("{{ ()|attr('__class__')|attr('__base__')|attr('__subclasses__')() }}"),
        "undefined",
    ),
    "format gadget": Case(name_is("{{ '{0.__class__.__mro__}'.format('') }}"), "unsafe"),
    # -- the environment --
    "{{ env }}": Case(with_description("'{{ env }}'"), "not a mapping"),
    "{{ env.SECRET }}": Case(
        with_description("'{{ env.SECRET }}'"), "looks like a secret", env={"SECRET": "s3cr3t"}
    ),
    "env name not listed": Case(
        sub("candidate: {model: gpt-4.1,", "candidate: {model: gpt-4.1, target: '{{ env.HOME }}',"),
        "is not listed",
    ),
    "listed env name that looks secret": Case(
        sub("name: hostile", "name: hostile\nenv: [API_TOKEN]\ndescription: '{{ env.API_TOKEN }}'"),
        "looks like a secret",
        env={"API_TOKEN": "tok-123456"},
    ),
    "env items()": Case(with_description("'{{ env.items() }}'"), "is not listed"),
    # -- prompt files --
    "prompt /dev/zero": Case(baseline_prompt("/dev/zero"), "is outside"),
    "prompt /dev/zero under prompt_root /": Case(
        sub("name: hostile", "name: hostile\nprompt_root: /", baseline_prompt("/dev/zero")),
        "must be a regular file (this is a character device)",
    ),
    "prompt FIFO": Case(
        baseline_prompt("prompts/pipe.md"), "must be a regular file (this is a FIFO)", setup=_fifo
    ),
    "prompt ../../etc/passwd": Case(baseline_prompt("../../etc/passwd"), "is outside"),
    "prompt /etc/shadow": Case(baseline_prompt("/etc/shadow"), "is outside"),
    "prompt symlink out of the folder": Case(
        baseline_prompt("prompts/link.md"), "a symlink to /etc/passwd", setup=_symlink_out
    ),
    "prompt symlink to /dev/zero": Case(
        baseline_prompt("prompts/zero.md"), "a symlink to /dev/zero", setup=_symlink_zero
    ),
    "prompt over the size limit": Case(
        baseline_prompt("prompts/big.md"), "the limit is 1 MiB", setup=_big_prompt
    ),
    # -- numbers and sizes --
    "requests_per_second: .inf": Case(
        sub("metrics: {type: simulated}", "metrics: {type: simulated, requests_per_second: .inf}"),
        "must be a finite number",
    ),
    "max_ratio: .inf": Case(sub("max_ratio: 1.5", "max_ratio: .inf"), "must be a finite number"),
    "max_ratio: .nan": Case(sub("max_ratio: 1.5", "max_ratio: .nan"), "must be a finite number"),
    "weight: true": Case(sub("weight: 5,", "weight: true,"), "expected a number, got a boolean"),
    "bool for a provider number": Case(
        sub("metrics: {type: simulated}", "metrics: {type: simulated, requests_per_second: true}"),
        "expected a number, got a boolean",
    ),
    "min_requests: 10**30": Case(
        sub("bake: 1m}", "bake: 1m, min_requests: 1000000000000000000000000000000}"),
        "out of range",
    ),
    "50 MB description": Case(
        with_description("x" * (50 * 1024 * 1024)), "the limit is 1 MiB", line=False
    ),
    "5,000-character description": Case(with_description("y" * 5000), "at most 4096"),
    # -- secrets in the plan --
    "token in a webhook URL": Case(
        sub(
            "router: {type: file, path: routes/app.json}",
            "router:\n  type: http\n  set: {url: 'https://gw.example/w?token=tok-abcdef123'}\n"
            "  get: {url: 'https://gw.example/w', weights_path: {candidate: c}}",
        ),
        "in a URL",
    ),
    "password in a Prometheus URL": Case(
        sub(
            "metrics: {type: simulated}",
            "metrics: {type: prometheus, url: 'http://u:pw1234@p:9090'}",
        ),
        "a password in a URL",
    ),
    # -- files that are not plan files --
    "plan is a FIFO": Case(
        HOSTILE_BASE, "must be a regular file (this is a FIFO)", line=False, setup=_plan_fifo
    ),
    "var file /dev/zero": Case(
        HOSTILE_BASE,
        "must be a regular file (this is a character device)",
        ("--var-file", "/dev/zero"),
        line=False,
    ),
}


def prepare(d: Path, case: Case) -> Path:
    """The plan folder for `case`: prompts, a routes file that must stay untouched, the plan."""
    (d / "prompts").mkdir()
    (d / "prompts" / "v1.md").write_text("be helpful\n")
    (d / "prompts" / "v2.md").write_text("be helpful and brief\n")
    (d / "routes").mkdir()
    (d / "routes" / "app.json").write_text('{"keep": "me"}\n')
    plan = d / "plan.yaml"
    plan.write_text(case.text)
    if case.setup is not None:
        case.setup(d)
    return plan
