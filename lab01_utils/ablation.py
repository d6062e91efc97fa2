"""Choosing a recipe from a sweep: each variant's runs over seeds, summarised, and the rule.

A sweep (`scripts/sweep_improve.sh`) leaves one folder per run, named `<variant>_s<seed>`,
each with the run's `history.json` and `config.json`. The rule, fixed before any run:

- only runs evaluated on a validation split held out of the training set take part
  (`config.json`'s `val_split` above 0); a run evaluated on the test set is refused;
- the choice waits until every variant (the fixed ones: `config.IMPROVE_VARIANTS`) has
  finished every epoch at every seed;
- each run's figure is the final epoch's validation accuracy of the model it evaluates and
  keeps: the EMA model's (`ema_val_acc`) when the run has one, else `val_acc`; one view;
- the chosen variant has the highest mean of that figure over its seeds.

    python scripts/results_tables.py ablation results/improve_val [--plot FILE.png]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .digests import RunFileError, read_json
from .runs import kept_val_acc

__all__ = [
    "SweepError",
    "VariantSummary",
    "choose",
    "load_sweep",
    "markdown_table",
    "variant_flags",
]

RUN_NAME = re.compile(r"^(?P<variant>.+)_s(?P<seed>\d+)$")


class SweepError(ValueError):
    """A sweep folder that cannot be summarised: the message names the file and what to do."""


@dataclass(frozen=True)
class Run:
    variant: str
    seed: int
    path: Path
    history: list[dict]
    config: dict

    @property
    def complete(self) -> bool:
        return len(self.history) >= int(self.config.get("epochs", 0)) > 0


def variant_flags(name: str) -> list[str]:
    """The `python -m lab01_utils.train` options of one fixed variant's runs: the sweep's
    (`config.IMPROVE_SWEEP`), then the variant's changes (`config.IMPROVE_VARIANTS[name]`), e.g.
    `variant_flags("smooth")` -> `["--task", "torch", "--val-split", "5000", "--tta",
    "--label-smoothing", "0.1"]`. `scripts/sweep_improve.sh` runs each variant with these."""
    from .config import IMPROVE_SWEEP, IMPROVE_VARIANTS

    if name not in IMPROVE_VARIANTS:
        raise SweepError(
            f"no fixed variant named {name!r}; the variants are {', '.join(IMPROVE_VARIANTS)} "
            "(config.IMPROVE_VARIANTS)"
        )
    flags: list[str] = []
    for key, value in {**IMPROVE_SWEEP, **IMPROVE_VARIANTS[name]}.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            flags.append(flag)
        elif value is not False:
            flags += [flag, str(value)]
    return flags


@dataclass(frozen=True)
class VariantSummary:
    """One variant over its seeds. `figures`: each finished seed's `runs.kept_val_acc` of the final
    epoch; `tta`: the same with test-time augmentation, where the runs measured it."""

    name: str
    seeds: tuple[int, ...]
    finished: tuple[int, ...]
    figures: tuple[float, ...]
    tta: tuple[float, ...]
    raw: tuple[float, ...]
    train_acc: tuple[float, ...]

    @property
    def complete(self) -> bool:
        return bool(self.seeds) and self.finished == self.seeds

    @property
    def mean(self) -> float:
        return sum(self.figures) / len(self.figures)

    @property
    def spread(self) -> float:
        """Largest minus smallest over the seeds."""
        return max(self.figures) - min(self.figures)


def _mean(xs: tuple[float, ...]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _load_run(folder: Path) -> Run:
    m = RUN_NAME.match(folder.name)
    if m is None:
        raise SweepError(
            f"{folder}: a sweep run's folder is named <variant>_s<seed> (e.g. lab_s0); "
            "move other folders out of the sweep's folder"
        )
    try:
        redo = "copy the run's files again from its run folder, or rerun it"
        history = read_json(folder / "history.json", "history", redo)
        config = read_json(folder / "config.json", "configuration", redo)
    except RunFileError as e:
        raise SweepError(str(e)) from None
    if not int(config.get("val_split") or 0) > 0:
        raise SweepError(
            f"{folder / 'config.json'}: this run was evaluated on the test set (val_split "
            f"{config.get('val_split', 'absent')}); a recipe is chosen on a validation split "
            "only: rerun it with --val-split 5000"
        )
    return Run(m["variant"], int(m["seed"]), folder, history, config)


def load_sweep(folder: str | Path) -> dict[str, list[Run]]:
    """Every run under `folder` (one sub-folder each), grouped by variant, seeds in order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SweepError(f"{folder}: no such folder (a sweep's runs, one folder per run)")
    runs: dict[str, list[Run]] = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        run = _load_run(sub)
        runs.setdefault(run.variant, []).append(run)
    if not runs:
        raise SweepError(f"{folder}: no runs in it yet (one folder per run, <variant>_s<seed>)")
    for rs in runs.values():
        rs.sort(key=lambda r: r.seed)
    return runs


def summarise(
    runs: dict[str, list[Run]],
    seeds: tuple[int, ...] = (0, 1),
    variants: Sequence[str] = (),
) -> list[VariantSummary]:
    """One summary per variant of `variants` (none run yet: no seed finished), then per other
    variant of `runs`; a variant missing a seed of `seeds`, or with an unfinished run, is not
    complete (and `choose` waits for it)."""
    out = []
    for name in [*variants, *(v for v in runs if v not in variants)]:
        rs = runs.get(name, [])
        done = [r for r in rs if r.complete and r.seed in seeds]
        last = [r.history[-1] for r in done]
        out.append(
            VariantSummary(
                name=name,
                seeds=tuple(seeds),
                finished=tuple(r.seed for r in done),
                figures=tuple(kept_val_acc(e) for e in last),
                tta=tuple(e["tta_val_acc"] for e in last if "tta_val_acc" in e),
                raw=tuple(e["val_acc"] for e in last),
                train_acc=tuple(e["train_acc"] for e in last),
            )
        )
    return out


def choose(summaries: list[VariantSummary]) -> VariantSummary | None:
    """The variant with the highest mean final validation accuracy, once every variant is
    complete (None until then)."""
    if not summaries or not all(s.complete for s in summaries):
        return None
    return max(summaries, key=lambda s: s.mean)


def markdown_table(summaries: list[VariantSummary], baseline: str = "lab") -> str:
    """The ablation: one row per variant, mean and spread over the seeds, the difference from
    `baseline`'s mean, and which variant the rule chooses."""
    base = next((s for s in summaries if s.name == baseline and s.complete), None)
    chosen = choose(summaries)
    rows = [
        "| variant | seeds done | val acc, mean (%) | spread (%) | vs "
        f"`{baseline}` | TTA val acc, mean (%) | raw weights' val acc (%) | train acc (%) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        if not s.finished:
            rows.append(f"| `{s.name}` | none yet | | | | | | |")
            continue
        delta = f"{s.mean - base.mean:+.2f}" if base is not None and s.complete else ""
        tta, raw, tr = _mean(s.tta), _mean(s.raw), _mean(s.train_acc)
        mark = " (chosen)" if s is chosen else ""
        rows.append(
            f"| `{s.name}`{mark} | {', '.join(map(str, s.finished))} of "
            f"{', '.join(map(str, s.seeds))} | {s.mean:.2f} | {s.spread:.2f} | {delta} "
            f"| {'' if tta is None else f'{tta:.2f}'} | {raw:.2f} | {tr:.2f} |"
        )
    return "\n".join(rows)
