"""Markdown tables for docs/RESULTS.md, from the runs' `history.json` files.

    python scripts/results_tables.py epochs A/history.json B/history.json [--names A B]
    python scripts/results_tables.py sweep results/sweep_cuda/*/      # one row per variant
    python scripts/results_tables.py ablation results/improve_val [--plot FILE.png]

`epochs`: the two runs epoch by epoch (lr, train loss, val accuracy, difference B - A).
`sweep`: final, best and last-5-mean val accuracy, final train accuracy and losses.
`ablation`: a sweep over seeds (`<variant>_s<seed>` folders) by the rule of
`lab01_utils/ablation.py`: mean and spread over the seeds, and the variant it chooses.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load(path: str) -> list[dict]:
    p = Path(path)
    if p.is_dir():
        p = p / "history.json"
    if not p.is_file():
        raise SystemExit(f"error: no history.json at {p}")
    return json.loads(p.read_text())


def epochs(a: list[dict], b: list[dict], names: tuple[str, str]) -> str:
    na, nb = names
    rows = [
        f"| epoch | lr | train loss {na} | train loss {nb} | val acc {na} (%) "
        f"| val acc {nb} (%) | {nb} - {na} |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for ea, eb in zip(a, b, strict=False):  # a run still going shows its epochs so far
        rows.append(
            f"| {ea['epoch']} | {ea['lr']:g} | {ea['train_loss']:.4f} | {eb['train_loss']:.4f} "
            f"| {ea['val_acc']:.2f} | {eb['val_acc']:.2f} | {eb['val_acc'] - ea['val_acc']:+.2f} |"
        )
    return "\n".join(rows)


def sweep(dirs: list[str]) -> str:
    rows = [
        "| variant | final val acc (%) | best (%) | mean of last 5 (%) | final train acc (%) "
        "| final train loss | final val loss |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for d in dirs:
        h = load(d)
        f, best = h[-1], max(h, key=lambda e: e["val_acc"])
        last5 = sum(e["val_acc"] for e in h[-5:]) / len(h[-5:])
        rows.append(
            f"| `{Path(d).name}` | {f['val_acc']:.2f} | {best['val_acc']:.2f} (epoch "
            f"{best['epoch']}) | {last5:.2f} | {f['train_acc']:.2f} | {f['train_loss']:.4f} "
            f"| {f['val_loss']:.4f} |"
        )
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("epochs")
    e.add_argument("a")
    e.add_argument("b")
    e.add_argument("--names", nargs=2, default=("A", "B"))
    s = sub.add_parser("sweep")
    s.add_argument("dirs", nargs="+")
    a = sub.add_parser("ablation")
    a.add_argument("folder")
    a.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    a.add_argument("--plot", help="also write the figure to this PNG file")
    a.add_argument(
        "--variants",
        nargs="*",
        help="the variants the rule waits for (default: config.IMPROVE_VARIANTS)",
    )
    args = p.parse_args()
    if args.cmd == "epochs":
        print(epochs(load(args.a), load(args.b), tuple(args.names)))
    elif args.cmd == "sweep":
        print(sweep(args.dirs))
    else:
        ablation_report(args.folder, tuple(args.seeds), args.plot, args.variants)


def ablation_report(folder: str, seeds: tuple[int, ...], plot: str | None, variants) -> None:
    from lab01_utils import ablation
    from lab01_utils.files import atomic_write
    from lab01_utils.plots import figure_to_png, plot_ablation

    try:
        runs = ablation.load_sweep(folder)
    except ablation.SweepError as e:
        raise SystemExit(f"error: {e}") from None
    from lab01_utils.config import IMPROVE_VARIANTS

    variants = tuple(IMPROVE_VARIANTS) if variants is None else tuple(variants)
    summaries = ablation.summarise(runs, seeds, variants)
    print(ablation.markdown_table(summaries))
    chosen = ablation.choose(summaries)
    waiting = [s.name for s in summaries if not s.complete]
    print()
    print(
        f"chosen: {chosen.name} ({chosen.mean:.2f}%)"
        if chosen
        else "chosen: none yet (the rule waits for every variant)"
    )
    if waiting:
        print(f"not complete (seeds {', '.join(map(str, seeds))}): {', '.join(waiting)}")
    if plot:
        done = {
            v: [r.history for r in rs if r.complete and r.seed in seeds] for v, rs in runs.items()
        }
        png = figure_to_png(plot_ablation(done))
        atomic_write(Path(plot), lambda f: f.write(png))
        print(f"figure: {plot}")


if __name__ == "__main__":
    main()
