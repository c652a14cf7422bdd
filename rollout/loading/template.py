"""Plan templating: jinja2 in a sandbox with budgets, and the environment as an opt-in.

The sandbox already blocks attribute gadgets (`__mro__`, `__subclasses__`, `attr()` chains);
on top of it every render is bounded, because a plan must never be able to hang or exhaust
the loader:

* loops: every `{% for %}` iterates through one shared budget (MAX_ITERATIONS per render), so
  nested loops over `range(100000)` stop at once; `range` itself is capped at MAX_RANGE;
* sizes: `**` with a large exponent, `*`, `+` and `~` that would build more than MAX_OUTPUT,
  any call or filter given a number above MAX_ARGUMENT (`range(10**12)`, `ljust(10**9)`), and a
  rendered text above MAX_OUTPUT are refused; a filter's result is checked too;
* `{% include %}`, `{% import %}`, `{% from %}` and `{% extends %}` are refused at parse
  time: a plan is one file;
* only `range` and `dict` are global (no `lipsum`, `cycler`, `joiner`, `namespace`);
* a wall-clock deadline (main thread only, SIGALRM) backs all of that up.

`{{ env.NAME }}` reads an environment variable only when the plan lists NAME under a top-level
`env:` (or NAME starts with ROLLOUT_VAR_); `{{ env }}` itself is not the mapping. Names that
look like secrets are refused whatever the plan says: the rendered plan is stored in state and
shown in reports. Every failure is a located SpecError.
"""

from __future__ import annotations

import contextlib
import functools
import re
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from rollout.errors import Problem, SpecError
from rollout.loading.diagnostics import template_site
from rollout.loading.read import MAX_PLAN_BYTES

MAX_ITERATIONS = 100_000  # loop iterations per render, all loops together
MAX_RANGE = 10_000
MAX_ARGUMENT = 1_000_000  # the largest number a template may pass to a call or filter
MAX_EXPONENT = 64
MAX_OUTPUT = MAX_PLAN_BYTES  # characters: of the rendered plan and of any value built in it
DEADLINE_S = 1.5
ENV_PREFIX = "ROLLOUT_VAR_"
# Environment variable names that hold credentials by convention: a word of the name (split at
# `_`, `-`, `.`) or a telling fragment anywhere (GITHUB_TOKEN, DB_PASSWORD, OPENAI_APIKEY).
_SECRET_WORDS = frozenset(
    [
        "pass",
        "passwd",
        "password",
        "pwd",
        "secret",
        "secrets",
        "token",
        "tokens",
        "key",
        "keys",
        "apikey",
        "credential",
        "credentials",
        "auth",
        "sas",
        "sig",
        "signature",
        "cert",
        "private",
        "cookie",
        "session",
        "conn",
        "connection",
        "dsn",
        "pat",
        "bearer",
    ]
)
_SECRET_FRAGMENT = re.compile(r"(passw|secret|token|apikey|api_key|credential|private_key)", re.I)
_TEMPLATE_MARK = re.compile(r"{[{%#]")


class TemplateRefused(Exception):
    """A template asked for more than a plan may; carries the template line when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _Deadline(BaseException):
    """Raised by the alarm; a BaseException so that no template-level handler swallows it."""


# -- the environment, opt-in ------------------------------------------------------------------


def listed_env(raw: str) -> list[str]:
    """Names under a literal top-level `env:` key, read from the raw text before rendering
    (flow `env: [A, B]` or a block list). Rendering cannot change which names are readable."""
    lines = raw.splitlines()
    for i, text in enumerate(lines):
        m = re.match(r"env:\s*(.*?)\s*(#.*)?$", text)
        if not m:
            continue
        rest = m.group(1)
        if rest.startswith("["):
            return [n.strip().strip("'\"") for n in rest.strip("[]").split(",") if n.strip()]
        names = []
        for follow in lines[i + 1 :]:
            item = re.match(r"\s+-\s*([^#\s]+)", follow)
            if item:
                names.append(item.group(1).strip("'\""))
            elif follow.strip() and not follow.lstrip().startswith("#"):
                break
        return names
    return []


def secret_looking(name: str) -> bool:
    words = {w.lower() for w in re.split(r"[_\-.]", name) if w}
    return bool(words & _SECRET_WORDS) or _SECRET_FRAGMENT.search(name) is not None


class EnvView:
    """What `env` is inside a plan template: lookups by name, only of allowed names."""

    def __init__(self, env: Mapping[str, str], allowed: Iterable[str]) -> None:
        self._env = env
        self._allowed = frozenset(allowed)
        self._used: set[str] = set()

    def __getitem__(self, name: str) -> str:
        if not isinstance(name, str):
            raise KeyError(name)
        if secret_looking(name):
            raise TemplateRefused(
                f"env.{name} looks like a secret, and a rendered plan is stored and shown; pass "
                "credentials through the environment to the provider instead (e.g. "
                "bearer_token_env: NAME, or ${NAME} in a header)"
            )
        if name not in self._allowed and not name.startswith(ENV_PREFIX):
            raise TemplateRefused(
                f"env.{name} is not listed: the environment is opt-in; add `env: [{name}]` "
                f"at the top of the plan (or name the variable {ENV_PREFIX}...)"
            )
        self._used.add(name)
        return self._env[name]  # KeyError -> undefined (so `| default(...)` works)

    def _whole(self, *_: Any) -> Any:
        raise TemplateRefused("the environment is not a mapping here: write env.NAME")

    __str__ = __repr__ = __iter__ = __len__ = __contains__ = _whole


# -- the bounded sandbox ----------------------------------------------------------------------


def _sandbox_class() -> Any:
    from jinja2 import nodes
    from jinja2.sandbox import SandboxedEnvironment

    refused_tags = {
        nodes.Include: "include",
        nodes.Import: "import",
        nodes.FromImport: "from ... import",
        nodes.Extends: "extends",
    }

    class Sandbox(SandboxedEnvironment):
        intercepted_binops = frozenset(["**", "*", "+", "%"])

        def __init__(self, **kw: Any) -> None:
            super().__init__(**kw)
            self.iterations = 0
            self.globals = {"range": self.bounded_range, "dict": dict}
            self.filters = {k: self._guard(f, k) for k, f in self.filters.items()}

        # parse time: no other files; every loop and `~` goes through a budget
        def _parse(self, source: str, name: str | None, filename: str | None) -> Any:
            tree = super()._parse(source, name, filename)
            for kind, word in refused_tags.items():
                for node in tree.find_all(kind):
                    raise TemplateRefused(
                        f"{{% {word} %}} is not allowed in a plan: a plan is one file "
                        "(use --var-file for shared values)",
                        node.lineno,
                    )
            for loop in tree.find_all(nodes.For):
                loop.iter = nodes.Call(
                    nodes.EnvironmentAttribute("loop_budget"), [loop.iter], [], None, None
                )
            for cat in tree.find_all(nodes.Concat):
                cat.nodes = [
                    nodes.Call(
                        nodes.EnvironmentAttribute("concat_budget"),
                        [nodes.List(list(cat.nodes))],
                        [],
                        None,
                        None,
                    )
                ]
            return tree

        # run time
        def loop_budget(self, iterable: Any) -> Iterator[Any]:
            for item in iterable:
                self.iterations += 1
                if self.iterations > MAX_ITERATIONS:
                    raise TemplateRefused(
                        f"the template loops more than {MAX_ITERATIONS:,} times in all"
                    )
                yield item

        def concat_budget(self, items: list[Any]) -> str:
            parts = [str(x) for x in items]
            _size_ok(sum(len(p) for p in parts), "'~'")
            return "".join(parts)

        def bounded_range(self, *args: Any) -> range:
            _numbers_ok(args, "range()")
            r = range(*args)  # range() itself raises TypeError/ValueError for bad arguments
            if len(r) > MAX_RANGE:
                raise TemplateRefused(f"range() of {len(r):,} items; the limit is {MAX_RANGE:,}")
            return r

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**":
                if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                    raise TemplateRefused("exponent too large in a plan template")
            elif operator == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, str | list | tuple) and isinstance(n, int):
                        _size_ok(len(seq) * n, "'*'")
            elif operator == "+":
                if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                    _size_ok(len(left) + len(right), "'+'")
            elif operator == "%" and isinstance(left, str):
                _format_ok(left)
            return super().call_binop(context, operator, left, right)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            what = getattr(__obj, "__name__", "a call")
            what = "range()" if what == "bounded_range" else what
            _numbers_ok((*args, *kwargs.values()), what)
            owner = getattr(__obj, "__self__", None)
            if isinstance(owner, str):
                _format_ok(owner)
            result = SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs)
            _result_ok(result, what)
            return result

        def _guard(self, f: Callable[..., Any], name: str) -> Callable[..., Any]:
            is_format = getattr(f, "__name__", "") == "do_format"

            @functools.wraps(f)  # keeps jinja's @pass_context / @pass_environment marker
            def guarded(*args: Any, **kwargs: Any) -> Any:
                _numbers_ok((*args, *kwargs.values()), "a filter")
                if is_format:
                    for a in args:
                        if isinstance(a, str):
                            _format_ok(a)
                result = f(*args, **kwargs)
                _result_ok(result, f"the {name} filter")
                return result

            return guarded

    return Sandbox


def _numbers_ok(values: Iterable[Any], what: str) -> None:
    for v in values:
        if isinstance(v, int | float) and not isinstance(v, bool) and abs(v) > MAX_ARGUMENT:
            raise TemplateRefused(
                f"{what} was given {_num(v)}; numbers passed in a plan template are at most "
                f"{MAX_ARGUMENT:,}"
            )


def _num(v: float) -> str:
    if isinstance(v, int) and v.bit_length() > 64:
        return f"a {len(str(v)) if v.bit_length() < 100_000 else 'huge'}-digit number"
    return f"{v:,}" if isinstance(v, int) else repr(v)


def _size_ok(n: int, op: str) -> None:
    if n > MAX_OUTPUT:
        raise TemplateRefused(
            f"{op} would build {n:,} characters; the limit is {MAX_OUTPUT:,} (the plan limit)"
        )


def _format_ok(fmt: str) -> None:
    """`'%999999999s' % x` and `'{:>999999999}'.format(x)` allocate before anything can look."""
    if re.search(r"\d{7,}", fmt):
        raise TemplateRefused("a format width or precision in a plan template is too large")


def _result_ok(result: Any, what: str) -> None:
    if isinstance(result, str | list | tuple | dict) and len(result) > MAX_OUTPUT:
        _size_ok(len(result), what)


def bounded_environment(**options: Any) -> Any:
    """A bounded sandbox environment (for templates rendered at run time, e.g. the http router's
    body); `env.iterations = 0` before each render restarts the loop budget."""
    return _sandbox_class()(**options)


# -- rendering --------------------------------------------------------------------------------


def render(raw: str, name: str, context: Mapping[str, Any]) -> str:
    """Render with the bounded sandbox, StrictUndefined. Plain YAML skips jinja entirely."""
    if not _TEMPLATE_MARK.search(raw):
        return raw
    import jinja2

    envr = _sandbox_class()(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    try:
        with _deadline(DEADLINE_S):
            template = envr.from_string(raw)
            out: list[str] = []
            size = 0
            for chunk in template.generate(**context):
                size += len(chunk)
                _size_ok(size, "the rendered plan")
                out.append(chunk)
            return "".join(out)
    except TemplateRefused as exc:
        line = exc.line if exc.line is not None else _template_line(exc)
        col, field = template_site(raw, line, None)
        raise SpecError(
            [Problem(name, line, col, field, f"template refused: {exc.message}")]
        ) from None
    except _Deadline:
        raise SpecError(
            [Problem(name, None, None, "", f"template refused: rendering took over {DEADLINE_S}s")]
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        raise SpecError(
            [Problem(name, exc.lineno, None, "", f"template syntax error: {exc.message}")]
        ) from None
    except jinja2.UndefinedError as exc:
        raise SpecError(
            [_undefined_problem(raw, name, _template_line(exc), exc.message or "")]
        ) from None
    except jinja2.TemplateError as exc:  # sandbox violations and the like
        raise SpecError([_at_line(raw, name, exc, f"template error: {str(exc)[:200]}")]) from None
    except (MemoryError, RecursionError) as exc:
        what = "too much memory" if isinstance(exc, MemoryError) else "recursion too deep"
        raise SpecError([_at_line(raw, name, exc, f"template refused: {what}")]) from None
    except Exception as exc:  # a template's own runtime error, e.g. 1/0 or range("a")
        msg = f"template error: {type(exc).__name__}: {str(exc)[:200]}"
        raise SpecError([_at_line(raw, name, exc, msg)]) from None


def _at_line(raw: str, name: str, exc: BaseException, message: str) -> Problem:
    line = _template_line(exc)
    col, field = template_site(raw, line, None)
    return Problem(name, line, col, field, message)


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """SIGALRM after `seconds` (main thread only, and only if no other timer is running)."""
    usable = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if not usable or signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        yield
        return

    def fire(signum: int, frame: Any) -> None:
        raise _Deadline()

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _undefined_problem(raw: str, name: str, line: int | None, message: str) -> Problem:
    """Name the variable, and where it is used: the column of its `{{ }}` and the YAML field."""
    m = re.search(r"'(\w+)' is undefined", message)
    var = m.group(1) if m else None
    if var is not None:
        text = (
            f"undefined template variable {var!r} "
            f"(pass it with --var {var}=..., --var-file or the environment)"
        )
    else:
        m = re.search(r"EnvView object' has no attribute '(\w+)'", message)
        if m:
            var = m.group(1)
            text = f"undefined template value: environment variable {var} is not set"
        else:
            text = f"undefined template value: {message[:200]}"
    col, field = template_site(raw, line, var)
    return Problem(name, line, col, field, text)


def _template_line(exc: BaseException) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
