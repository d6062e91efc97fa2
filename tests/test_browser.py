"""The JupyterLab walkthrough in a real browser: what a student does, and what they see.

nbval proves the notebooks execute; this proves they work in JupyterLab. For each notebook of
the series the test starts from a fresh JupyterLab page, runs Run > Run All Cells, and checks:

- no cell shows an error output, every non-empty code cell ran, no dialog is open (e.g. a dead
  kernel), every image loaded and every widget rendered (no "Error displaying widget" and no
  widget repr printed as text in its place);
- the explorers (`lab01_utils.widgets`: SiLU, augmentation, feature maps) respond: a control
  moved with the mouse gives a new plot; the training curves, which have no control, show a
  new plot after each epoch while their cell runs;
- the committed notebook, and the copy JupyterLab served, are unchanged (autosave is off).

A screenshot of each notebook, as tall as the notebook, goes to `screenshots/` (git-ignored).
JupyterLab and Chromium are stopped by process id whatever happens (`browser_support`).

Skipped when Chromium or Playwright is missing, except under CI (env CI set): then it fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import browser_support as bs
import nbformat
import pytest

from lab01_utils import checks

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
SERIES = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# The whole series by default; LAB01_BROWSER_NOTEBOOKS=00,silu,10 walks through only the
# notebooks whose names contain one of those (for a quick look while editing one).
_ONLY = [s.strip() for s in os.environ.get("LAB01_BROWSER_NOTEBOOKS", "").split(",") if s.strip()]
NOTEBOOKS = [nb for nb in SERIES if not _ONLY or any(o in nb.stem for o in _ONLY)]
SCREENSHOTS = REPO / "screenshots"
# Besides notebooks/, what the notebooks read from the repository (by walking up from their
# folder to pyproject.toml): copied next to the served copy of notebooks/.
SERVED_FROM_REPO = ("pyproject.toml", "results")

# Seconds. A notebook's Run All under the quick profile takes seconds; the limit only stops a
# hang. A redraw after a control moved is a fraction of a second.
RUN_TIMEOUT = float(os.environ.get("LAB01_BROWSER_RUN_TIMEOUT", "180"))
REDRAW_TIMEOUT = 30.0
WIDGET_SETTLE_TIMEOUT = 5.0

# The explorers each notebook must show, read from its source.
EXPLORER_KINDS = {
    "SiLU": re.compile(r"\b(silu_explorer|SiluExplorer)\("),
    "augmentation": re.compile(r"\b(augmentation_explorer|AugmentationExplorer)\("),
    "feature maps": re.compile(r"\b(feature_map_explorer|FeatureMapExplorer)\("),
    "training curves": re.compile(r"\bTrainingCurves\("),
}
LIVE_KINDS = {"training curves"}  # no control: they change while training runs


def notebook_source(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def explorer_kinds(path: Path) -> set[str]:
    source = notebook_source(path)
    return {kind for kind, pattern in EXPLORER_KINDS.items() if pattern.search(source)}


def git_status(path: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--", str(path)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def browser_available() -> None:
    reason = bs.browser_unavailable()
    if reason is not None:
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(f"the browser test must run in CI: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def served_root(tmp_path_factory) -> Path:
    """What JupyterLab serves: copies of notebooks/ and of what the notebooks read relative to
    it (pyproject.toml marks the repository root, results/ holds the committed runs), never
    the files themselves; and a scratch folder with a notebook broken on purpose."""
    root = tmp_path_factory.mktemp("lab-root")
    bs.copy_tree(REPO / "notebooks", root / "notebooks")
    for name in SERVED_FROM_REPO:
        src = REPO / name
        if src.is_dir():
            bs.copy_tree(src, root / name)
        elif src.is_file():
            (root / name).write_bytes(src.read_bytes())
    (root / "scratch").mkdir()
    nbformat.write(broken_notebook(), root / "scratch" / BROKEN)
    return root


@pytest.fixture(scope="module")
def lab(browser_available, served_root, tmp_path_factory):
    home = tmp_path_factory.mktemp("lab-home")
    with bs.jupyterlab(served_root, home, {"LAB01_PROFILE": "quick"}) as running:
        yield running


@pytest.fixture(scope="module")
def browser(browser_available, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    home = tmp_path_factory.mktemp("browser-home")
    with bs.chromium(home) as chromium, sync_playwright() as pw:
        connected = pw.chromium.connect_over_cdp(chromium.cdp_url)
        try:
            yield connected
        finally:
            connected.close()


@pytest.fixture(scope="module")
def walkthrough_log():
    """`screenshots/walkthrough.txt`: one line per notebook of what was done and seen."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / "walkthrough.txt"
    path.write_text(f"JupyterLab walkthrough, {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    return path


@pytest.fixture(scope="module")
def page(browser):
    """One tab for the whole walkthrough; each notebook opens (and closes) inside it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


# ----------------------------------------------------------------------------- the walkthrough
def settle_widgets(page, snap: dict, timeout: float = WIDGET_SETTLE_TIMEOUT) -> list[str]:
    """The page's problems, giving widget views a few seconds to finish rendering."""
    deadline = time.monotonic() + timeout
    found = bs.problems(snap)
    while any("widget did not render" in p for p in found) and time.monotonic() < deadline:
        page.wait_for_timeout(250)
        found = bs.problems(bs.snapshot(page))
    return found


def exercise_explorers(
    page, run: bs.Run, kinds: set[str], log: list[str], redraw_timeout: float = REDRAW_TIMEOUT
) -> list[str]:
    """Move a control of every explorer on the page and check that its plot changed; check
    that the live ones (no control) updated while their cell ran. Returns the problems."""
    found = []
    boxes = bs.explorers(page)
    controlled = live = 0
    for i in range(boxes.count()):
        box = boxes.nth(i)
        cell = bs.cell_index(box)
        if bs.has_controls(box):
            before = bs.image_src(box)
            what = bs.move_control(page, box)
            t0 = time.monotonic()
            if bs.wait_image_change(page, box, before, redraw_timeout):
                controlled += 1
                log.append(f"cell {cell}: {what}, new plot after {time.monotonic() - t0:.1f} s")
            else:
                found.append(
                    f"cell {cell}: {what}, but the plot did not change in {redraw_timeout} s"
                )
        else:
            frames = len(run.frames.get(cell, ()))
            log.append(f"cell {cell}: no control, {frames} different plots while it ran")
            live += frames >= 2
    want = sorted(kinds - LIVE_KINDS)
    if controlled < len(want):
        found.append(
            f"expected the {want} explorer(s) to respond to a control, but {controlled} of "
            f"{boxes.count()} widget plot(s) did"
        )
    if kinds & LIVE_KINDS and not live:
        found.append("the training curves did not change while training ran")
    return found


def _walked(nb: Path):
    """A notebook waits while an exercise it builds on (numbered up to its own number) fails
    its check: it would stop at that check, as it should. Exercises not written yet do not
    stop it: their cells print a notice and Run All goes on (`lab01_utils.notebook`)."""
    number = int(nb.name[:2])
    built_on = [e for e in checks.EXERCISES if int(e.split(".")[0]) <= number]
    return pytest.param(nb, marks=pytest.mark.waits_while_failing(*built_on), id=nb.stem)


@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks/NN_*.ipynb")
@pytest.mark.parametrize("notebook", [_walked(nb) for nb in NOTEBOOKS])
def test_notebook_in_jupyterlab(
    notebook: Path, lab, page, served_root: Path, walkthrough_log, request
):
    relpath = f"notebooks/{notebook.name}"
    served = served_root / relpath
    committed_bytes, served_bytes = notebook.read_bytes(), served.read_bytes()
    status_before = git_status(notebook)
    kinds = explorer_kinds(notebook)
    log: list[str] = []
    found = ["did not finish (see the traceback)"]
    try:
        t0 = time.monotonic()
        bs.open_notebook(page, lab, relpath)
        log.append(f"open {time.monotonic() - t0:.1f} s")
        run = bs.run_all_cells(page, RUN_TIMEOUT)
        log.append(f"run all {run.seconds:.1f} s")
        found = settle_widgets(page, run.snap)
        shrunk = bs.shrunk_figures(run.snap)
        if shrunk:
            log.append("figures shown below 60% of their width: " + ", ".join(shrunk))
        states = request.config._lab01_states.values()
        if not all(s.state == "done" for s in states):
            # The explorers draw what the exercises compute; before they are written only the
            # notices and the figures that do not need them show.
            log.append("explorers not moved: some exercises are not written yet")
        elif not any("not executed" in p or "error output" in p for p in found):
            found += exercise_explorers(page, run, kinds, log)
    except Exception as exc:  # a timeout, a control not found: add what the server said
        raise AssertionError(f"{exc}\n--- the JupyterLab log ends:\n{lab.log_tail()}") from exc
    finally:
        try:
            bs.full_page_screenshot(page, SCREENSHOTS / f"{notebook.stem}.png")
        finally:
            bs.close_notebook(page, lab, relpath)
            with walkthrough_log.open("a") as f:
                f.write(f"{notebook.name}: {'; '.join(log)}\n")
                f.writelines(f"    PROBLEM {p}\n" for p in found)

    assert not found, f"{notebook.name} in JupyterLab:\n" + "\n".join(found)
    assert served.read_bytes() == served_bytes, "JupyterLab saved the notebook (autosave?)"
    assert notebook.read_bytes() == committed_bytes, "the committed notebook changed"
    assert git_status(notebook) == status_before


# ----------------------------------------------------------------------------- the checks work
BROKEN = "broken_on_purpose.ipynb"


def broken_notebook():
    """An explorer whose slider is wired to nothing, a widget whose model does not exist,
    a cell that raises and one that therefore never runs."""
    cells = [
        "import ipywidgets as W\n"
        "from lab01_utils import plots\n"
        "slider = W.FloatSlider(value=1.0, min=0.1, max=5.0, description='beta')\n"
        "image = W.Image(value=plots.figure_to_png(plots.plot_silu(1.0), 60), format='png')\n"
        "W.VBox([W.HBox([slider]), image])  # the slider is observed by nothing",
        "from IPython.display import display\n"
        "display({'application/vnd.jupyter.widget-view+json': {'model_id': '0' * 32,\n"
        "         'version_major': 2, 'version_minor': 0},\n"
        "         'text/plain': 'VBox(children=(FloatSlider(value=1.0),))'}, raw=True)",
        "raise ValueError('broken on purpose')",
        "print('never reached')",
    ]
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    return nb


def test_the_checks_catch_a_broken_notebook(lab, page):
    """The checks flag an error cell, the cell it stopped, a widget that does not render and
    a plot that does not follow its control."""
    relpath = f"scratch/{BROKEN}"
    log: list[str] = []
    try:
        bs.open_notebook(page, lab, relpath)
        run = bs.run_all_cells(page, RUN_TIMEOUT)
        found = settle_widgets(page, run.snap, timeout=1.0)
        found += exercise_explorers(page, run, {"SiLU"}, log, redraw_timeout=2.0)
    finally:
        try:
            bs.full_page_screenshot(page, SCREENSHOTS / "scratch_broken_on_purpose.png")
        finally:
            bs.close_notebook(page, lab, relpath)
    text = "\n".join(found)
    assert "cell 2: error output" in text and "ValueError: broken on purpose" in text, text
    assert "cell 3: not executed" in text, text
    assert "cell 1: a widget did not render" in text, text
    assert "cell 0: slider 'beta'" in text and "the plot did not change" in text, text


def test_the_series_has_every_explorer():
    """The checks above are only as good as the explorers they find: the series must use all
    four (the SiLU, augmentation, feature-map and training-curve widgets)."""
    if not SERIES:
        pytest.skip("no notebooks/NN_*.ipynb")
    used = set().union(*(explorer_kinds(nb) for nb in SERIES))
    assert used == set(EXPLORER_KINDS), f"missing: {sorted(set(EXPLORER_KINDS) - used)}"
