"""The core of the self-checks: the registry of exercises, the result a check returns, and
running student code so that nothing it does escapes as a traceback.

A check is a function `body(res, **implementations)` registered with `@exercise(...)`: its
number, title, where its stub lives, its points, the exercises it builds on, its hints (as
data: `{key: message}`), and a default for each implementation it takes. The body compares
(`compare.py`) and records what it finds in `res`; `res.hint(key)` and `res.explain(got,
{key: wrong_answer})` turn a key into that exercise's message.
"""

from __future__ import annotations

import inspect
import re
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "EXERCISES",
    "CheckFailed",
    "CheckResult",
    "Exercise",
    "Stop",
    "call",
    "exercise",
    "group",
    "run",
]

NN = "lab01_utils/nn/"


@dataclass(frozen=True)
class Exercise:
    """One exercise: its number, title, where its stub lives, its points and its check."""

    id: str
    title: str
    where: str
    points: int
    check: Callable[..., CheckResult]
    depends: tuple[str, ...] = ()
    hints: Mapping[str, str] = field(default_factory=dict)


# Filled by `@exercise` as the check modules are imported; kept in the exercises' order.
EXERCISES: dict[str, Exercise] = {}


@dataclass
class CheckResult:
    """What a check found.

    Attributes:
        exercise, title: e.g. "3.2", "im2col convolution forward" ("1.1, 1.2" for a group).
        passed: every comparison agreed.
        implemented: False when the check met a stub (`missing` says whose).
        messages: one line per finding: failures, `hint: ...`, `note: ...`, `ok: ...`.
        errors: the largest relative error per compared output (e.g. "dx", "weight.grad").
    """

    exercise: str
    title: str
    passed: bool = True
    implemented: bool = True
    missing: str | None = None
    messages: list[str] = field(default_factory=list)
    errors: dict[str, float] = field(default_factory=dict)
    parts: list[CheckResult] = field(default_factory=list)
    hints: Mapping[str, str] = field(default_factory=dict, repr=False)

    def fail(self, message: str) -> None:
        self.passed = False
        self.messages.append(message)

    def hint(self, message: str, **fields) -> None:
        """Add a hint: one of the exercise's hint keys (its `{fields}` filled in), or the text
        itself."""
        if re.fullmatch(r"[a-z0-9_]+", message) and message not in self.hints:
            raise KeyError(f"Exercise {self.exercise} declares no hint {message!r}")
        text = self.hints.get(message, message)
        line = f"hint: {text.format(**fields) if fields else text}"
        if line not in self.messages:
            self.messages.append(line)

    def explain(self, got, mistakes: Sequence[tuple[object, str]]) -> bool:
        """Add the hint of the first classic mistake whose output `got` matches: `mistakes`
        holds `(what that mistake computes, its hint key or text)` pairs, in order."""
        from .compare import matches

        for wrong, hint in mistakes:
            if matches(got, wrong):
                self.hint(hint)
                return True
        return False

    def note(self, message: str) -> None:
        line = f"note: {message}"
        if line not in self.messages:
            self.messages.append(line)

    def ok(self, message: str) -> None:
        self.messages.append(f"ok: {message}")

    @property
    def status(self) -> str:
        if self.passed:
            return "passed"
        if self.missing is not None and self.missing != self.exercise:
            return f"needs Exercise {self.missing} first (not implemented yet)"
        if not self.implemented:
            return "not implemented yet"
        return "FAILED"

    def report(self) -> str:
        """The printed report: a status line, then one indented line per message."""
        if self.parts:
            return "\n".join(p.report() for p in self.parts)
        lines = [f"Exercise {self.exercise} ({self.title}): {self.status}"]
        lines += [f"    {m}" for m in self.messages]
        return "\n".join(lines)

    __str__ = report

    def require(self) -> None:
        """For notebooks: nothing if the check passed; `NotImplementedError("Exercise N.M:
        ...")` if the exercise (or one it needs) is not written yet, which the notebook
        extension turns into a notice; `CheckFailed` if the code is there but wrong."""
        if self.passed:
            return
        if not self.implemented:
            ex = self.missing if self.missing in EXERCISES else self.exercise.split(",")[0]
            raise ExercisePending(f"Exercise {ex}: {EXERCISES[ex].title}")
        raise CheckFailed(
            f"Exercise {self.exercise} fails its check (the report above says where): fix it, "
            "restart the kernel and run again"
        )

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"CheckResult(exercise={self.exercise!r}, passed={self.passed})"


class ExercisePending(NotImplementedError):
    """`CheckResult.require()` on an exercise not written yet; the check's report, printed
    above it, already says where to write it."""


class CheckFailed(AssertionError):
    """`CheckResult.require()` on a failing check: the code is there, and wrong."""


class Stop(Exception):
    """End the current check; the reason is already recorded in the result."""


# ----------------------------------------------------------------------------- registering
def exercise(
    id: str,
    title: str,
    *,
    where: str,
    points: int,
    depends: tuple[str, ...] = (),
    hints: Mapping[str, str] | None = None,
    **implementations: Callable[[], object],
):
    """Register `body(res, **implementations)` as the check of Exercise `id`.

    `implementations` name what the check tests and give a default for each, as a function
    called when the check runs (so the check always sees the code imported *now*). The
    registered check is `check(*, <each implementation>=None, verbose=True) -> CheckResult`.
    """

    def register(body: Callable[..., None]) -> Callable[..., CheckResult]:
        def check(*, verbose: bool = True, **given) -> CheckResult:
            unknown = sorted(set(given) - set(implementations))
            if unknown:
                raise TypeError(
                    f"{body.__name__}() got unexpected keyword argument(s) {unknown}; it takes "
                    f"{sorted(implementations)} and verbose"
                )
            impls = {k: given.get(k) or default() for k, default in implementations.items()}
            return run(id, body, verbose, **impls)

        check.__name__, check.__qualname__ = body.__name__, body.__qualname__
        check.__doc__, check.__module__ = body.__doc__, body.__module__
        check.__signature__ = inspect.Signature(
            [
                inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=None)
                for k in implementations
            ]
            + [inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY, default=True)],
            return_annotation="CheckResult",
        )
        if id in EXERCISES:
            raise ValueError(f"Exercise {id} is registered twice")
        EXERCISES[id] = Exercise(id, title, where, points, check, tuple(depends), dict(hints or {}))
        in_order = sorted(EXERCISES.items(), key=lambda kv: tuple(map(int, kv[0].split("."))))
        EXERCISES.clear()
        EXERCISES.update(in_order)  # whatever order the modules are imported in
        return check

    return register


# ----------------------------------------------------------------------------- running
def stub_exercise(exc: BaseException) -> str | None:
    """The exercise whose stub raised `exc` (`NotImplementedError("Exercise N.M: ...")`), or
    None for any other exception. The notebook extension and the test run use it too."""
    if isinstance(exc, NotImplementedError):
        m = re.match(r"Exercise (\d+\.\d+)\b", str(exc))
        return m[1] if m else None
    return None


def _exercise_in(message: str) -> str | None:
    m = re.search(r"Exercise (\d+\.\d+)", message)
    return m[1] if m else None


def where(exc: BaseException) -> str:
    """`lab01_utils/nn/conv.py:97 in forward` for the innermost frame of `exc`."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    f = frames[-1]
    parts = Path(f.filename).parts
    short = "/".join(parts[parts.index("lab01_utils") :]) if "lab01_utils" in parts else parts[-1]
    return f"{short}:{f.lineno} in {f.name}"


def _not_implemented(res: CheckResult, exc: NotImplementedError, what: str) -> None:
    res.passed, res.implemented = False, False
    ex_id = _exercise_in(str(exc))
    res.missing = ex_id
    if ex_id == res.exercise:
        res.messages.append(
            f"Exercise {ex_id} not implemented yet: replace the "
            f"`raise NotImplementedError(...)` in {EXERCISES[ex_id].where} with your code."
        )
    elif ex_id is not None:
        title = EXERCISES[ex_id].title if ex_id in EXERCISES else str(exc)
        res.messages.append(
            f"Exercise {res.exercise} needs Exercise {ex_id} ({title}), which is not "
            "implemented yet: do that one first."
        )
    else:
        res.messages.append(
            f"{what} raised NotImplementedError({str(exc)!r}): not implemented yet ({where(exc)})"
        )


def call(res: CheckResult, what: str, fn: Callable, *args, hint: str | None = None, **kwargs):
    """Call student code: a stub, an exception or a RuntimeWarning becomes a message."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = fn(*args, **kwargs)
    except Stop:
        raise
    except NotImplementedError as e:
        _not_implemented(res, e, what)
        raise Stop from None
    except Exception as e:
        res.fail(f"{what} raised {type(e).__name__}: {e} (at {where(e)})")
        if hint:
            res.hint(hint)
        raise Stop from None
    for w in caught:
        if issubclass(w.category, RuntimeWarning):
            res.note(f"{what} warned: {w.message} ({Path(w.filename).name}:{w.lineno})")
    return out


def run(ex_id: str, body: Callable, verbose: bool, **kwargs) -> CheckResult:
    """Run one check's body; every outcome (a stub, an exception) becomes the result."""
    ex = EXERCISES[ex_id]
    res = CheckResult(ex_id, ex.title, hints=ex.hints)
    try:
        body(res, **kwargs)
    except Stop:
        pass
    except NotImplementedError as e:
        _not_implemented(res, e, "the code under test")
    except Exception as e:  # a bug the wrappers missed: still a report, never a traceback
        res.fail(f"unexpected {type(e).__name__}: {e} (at {where(e)})")
    if not res.passed and res.implemented:
        _blame_dependencies(res)
    if res.passed and not any(m.startswith("ok:") for m in res.messages):
        res.ok("everything matches")
    if verbose:
        print(res.report())
    return res


def _blame_dependencies(res: CheckResult) -> None:
    """When a check fails, name the exercises it builds on that fail their own checks."""
    for dep in EXERCISES[res.exercise].depends:
        sub = EXERCISES[dep].check(verbose=False)
        if not sub.passed:
            res.hint(
                f"this exercise builds on Exercise {dep} ({EXERCISES[dep].title}), which "
                f"{'is not implemented yet' if not sub.implemented else 'fails its own check'}"
                f" (checks.{EXERCISES[dep].check.__name__}()): fix that first"
            )


def group(title: str, results: list[CheckResult], verbose: bool) -> CheckResult:
    """Several exercises' results as one (`check_silu()` = 1.1 and 1.2)."""
    res = CheckResult(
        ", ".join(r.exercise for r in results),
        title,
        passed=all(r.passed for r in results),
        implemented=all(r.implemented for r in results),
        messages=[f"[{r.exercise}] {m}" for r in results for m in r.messages],
        errors={f"{r.exercise} {k}": v for r in results for k, v in r.errors.items()},
        parts=results,
    )
    if verbose:
        print(res.report())
    return res
