"""Self-checks for the lab's exercises: what is wrong, where, and what usually causes it.

Call one from a notebook cell after writing an exercise::

    from lab01_utils import checks

    checks.check_conv2d_forward()              # prints a short report
    assert checks.check_conv2d_forward(verbose=False).passed

Each check runs the implementation imported *now* (in the student release: yours; restart the
kernel or use `%autoreload` after editing a `.py` file) on small inputs, in float64, against
its torch twin and, for backward passes, against central-difference gradients. A failure says
which output is wrong (forward, dx, weight.grad, running_var, ...), its relative error
`max|got - want| / max|want|`, the first index where they differ, and a hint when the error
matches a classic mistake (biased vs unbiased variance, a flipped kernel, padding not cropped,
a gradient not averaged over the batch, an input modified in place, ...). A stub reports
"Exercise N.M not implemented yet"; no exception escapes a check.

Every check takes the implementation under test as an optional keyword argument (default: the
package's), e.g. `check_batchnorm_forward(bn_cls=MyBatchNorm)`, and returns a `CheckResult`
(`.passed`, `.messages`, `.errors`). `check(exercise_id)` and `check_all()` run them by number.

Layout: `core.py` (the registry, the result, running student code), `compare.py` (relative
error, comparisons, gradients by central differences; the tests use it too), and one module
per group of exercises, each check registered there with its number, points and hints.
"""

from __future__ import annotations

from .activation import check_silu, check_silu_backward, check_silu_forward
from .blocks import check_block
from .conv import check_conv2d, check_conv2d_backward, check_conv2d_forward, check_im2col
from .core import EXERCISES, CheckFailed, CheckResult, Exercise
from .linear import (
    check_cross_entropy,
    check_cross_entropy_backward,
    check_cross_entropy_forward,
    check_linear,
    check_linear_backward,
    check_linear_forward,
)
from .norm import check_batchnorm, check_batchnorm_backward, check_batchnorm_forward
from .optim import check_augmentation, check_lr_schedule, check_sgd
from .training import check_train_epoch

__all__ = [
    "EXERCISES",
    "CheckFailed",
    "CheckResult",
    "Exercise",
    "check",
    "check_all",
    "check_augmentation",
    "check_batchnorm",
    "check_batchnorm_backward",
    "check_batchnorm_forward",
    "check_block",
    "check_conv2d",
    "check_conv2d_backward",
    "check_conv2d_forward",
    "check_cross_entropy",
    "check_cross_entropy_backward",
    "check_cross_entropy_forward",
    "check_im2col",
    "check_linear",
    "check_linear_backward",
    "check_linear_forward",
    "check_lr_schedule",
    "check_sgd",
    "check_silu",
    "check_silu_backward",
    "check_silu_forward",
    "check_train_epoch",
    "total_points",
]


def check(exercise: str, *, verbose: bool = True) -> CheckResult:
    """Run one exercise's check by number, e.g. `check("3.2")` ("Exercise 3.2" and the
    number 3.2 are understood too)."""
    key = str(exercise).strip()
    key = key.removeprefix("Exercise").strip() if key.startswith("Exercise") else key
    if key not in EXERCISES:
        raise ValueError(
            f"check({exercise!r}): no such exercise; give its number as a string, one of "
            f"{', '.join(repr(e) for e in EXERCISES)}"
        )
    exercise = key
    return EXERCISES[exercise].check(verbose=verbose)


def total_points(results: dict[str, CheckResult]) -> tuple[int, int]:
    """`(points earned, points available)`: an exercise earns its points when its check passes."""
    earned = sum(EXERCISES[ex].points for ex, r in results.items() if r.passed)
    return earned, sum(e.points for e in EXERCISES.values())


def check_all(*, verbose: bool = True) -> dict[str, CheckResult]:
    """Run every exercise's check; print one status line each (and the failures' reports)."""
    results = {ex: check(ex, verbose=False) for ex in EXERCISES}
    if verbose:
        for ex, r in results.items():
            print(f"Exercise {ex:>4} {EXERCISES[ex].title:<34} {r.status}")
        earned, available = total_points(results)
        passed = sum(r.passed for r in results.values())
        print(f"{passed} of {len(results)} exercises pass: {earned} of {available} points")
        for r in results.values():
            if not r.passed and r.implemented:
                print()
                print(r.report())
    return results
