"""JupyterLab and headless Chromium for `test_browser.py`: start, drive, look, stop.

Both processes are started here, each in a new session (so its process group id is its pid),
and stopped by that id whatever happens: SIGTERM to the group, SIGKILL to what is left. The
kernels JupyterLab starts live in sessions of their own; they are found by the private
runtime directory on their command line and stopped by pid too. Nothing else is touched.

JupyterLab runs on 127.0.0.1, on a free port, with a random token and throwaway settings,
workspace, runtime, config, data and IPython directories (the data path still ends in the
venv's `share/jupyter`, where the python3 kernelspec and the ipywidgets extension live).
Autosave is off, and the notebooks are served from a copy: the committed files are never
written. Chromium is driven over the DevTools protocol by Playwright.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

CHROMIUM = Path(os.environ.get("LAB01_CHROMIUM", "/usr/bin/chromium"))

# Chromium flags for a headless run on a small, offline machine: no sandbox (containers, root),
# no GPU, nothing fetched in the background, /tmp instead of a small /dev/shm.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-breakpad",  # no crashpad handler: it would run outside the process group
    "--disable-crash-reporter",
    "--mute-audio",
]

# JupyterLab user settings: no news or update toasts, no autosave, every cell in the DOM (the
# default `contentVisibility` skips painting off-screen cells: bad for a full-page screenshot),
# and the notebook's kernel starts without a kernel-selection dialog.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,
        "scrollPastEnd": False,
    },
}

# Timeouts, in seconds. Generous where the machine's load decides (a kernel start, a cell),
# tight where nothing should take long (a menu, a rendered widget).
SERVER_START_TIMEOUT = 90
BROWSER_START_TIMEOUT = 30
NOTEBOOK_LOAD_TIMEOUT = 60
RUN_START_TIMEOUT = 10
STOP_TIMEOUT = 10


def browser_unavailable() -> str | None:
    """Why the browser test cannot run here (None when it can)."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set LAB01_CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- processes
def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group `pgid`."""
    import psutil  # a dependency of ipykernel, hence always here with JupyterLab

    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (OSError, psutil.Error):
            continue
    return members


def _pids_with_argument(path: str) -> list[int]:
    """Live processes of this user with the private `path`, or a file under it, as an argument
    (`PATH`, `--option=PATH`, `PATH/file`, `--option=PATH/file`)."""
    import psutil

    def names(arg: str) -> bool:
        value = arg.split("=", 1)[1] if arg.startswith("-") and "=" in arg else arg
        return value == path or value.startswith(path + os.sep)

    found = []
    for proc in psutil.process_iter(["cmdline", "uids", "status"]):
        info = proc.info
        if info["status"] == psutil.STATUS_ZOMBIE or not info["cmdline"]:
            continue
        if info["uids"] and info["uids"].real != os.getuid():
            continue
        if any(names(arg) for arg in info["cmdline"]) and proc.pid != os.getpid():
            found.append(proc.pid)
    return found


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, get SIGTERM when the test process dies, even by
    SIGKILL (when no `finally` can run). Elsewhere a no-op."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def start(cmd: list[str], log: Path, **kwargs) -> subprocess.Popen:
    """Start `cmd` in a new session (its process group id is its pid), output to `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            **kwargs,
        )


def stop_group(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM the process group we started (`start_new_session`), then SIGKILL what is left."""
    pgid = proc.pid
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _group_members(pgid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)


def stop_pids(pids: list[int], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM these pids, then SIGKILL the ones still alive after `timeout`."""
    import psutil

    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            proc.terminate()
            procs.append(proc)
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=timeout)


def _tail(path: Path, n: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


# ----------------------------------------------------------------------------- JupyterLab
@dataclass
class Lab:
    """A running JupyterLab: its process, address, token and private directories."""

    proc: subprocess.Popen
    port: int
    token: str
    root: Path
    home: Path
    log: Path
    pending: list[threading.Thread] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str, **query: str) -> str:
        params = "&".join(
            [f"token={self.token}"] + [f"{k}={v}" if v else k for k, v in query.items()]
        )
        return f"{self.base}/{path.lstrip('/')}?{params}"

    def notebook_url(self, relpath: str) -> str:
        """The notebook in a fresh layout (`reset` drops any saved workspace)."""
        return self.url(f"lab/tree/{quote(relpath)}", reset="")

    def api(self, method: str, path: str, timeout: float = 10):
        req = urllib.request.Request(
            f"{self.base}/api/{path.lstrip('/')}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def shutdown_kernel_of(self, relpath: str) -> None:
        """Shut down the session (and kernel) of one notebook, in the background: the server
        waits for the kernel to exit, which need not hold up the next notebook."""
        for session in self.api("GET", "sessions"):
            if session.get("path") == relpath:
                thread = threading.Thread(
                    target=self._delete, args=(f"sessions/{session['id']}",), daemon=True
                )
                thread.start()
                self.pending.append(thread)

    def _delete(self, path: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.api("DELETE", path, timeout=30)

    def join_pending(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        for thread in self.pending:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.pending.clear()

    def kernel_pids(self) -> list[int]:
        """Kernels of this server: their connection files lie in its private runtime dir."""
        return _pids_with_argument(str(self.home / "runtime"))

    def log_tail(self, n: int = 3000) -> str:
        return _tail(self.log, n)


def _write_settings(settings_dir: Path) -> None:
    for rel, value in LAB_SETTINGS.items():
        path = settings_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value, indent=2))


def _lab_env(home: Path, extra_env: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    for var, sub in [
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTER_CONFIG_DIR", "config"),
        # The user data dir comes first on the data path; the venv's share/jupyter (kernelspec,
        # ipywidgets lab extension) and the system ones follow, as before.
        ("JUPYTER_DATA_DIR", "data"),
        ("IPYTHONDIR", "ipython"),
    ]:
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    env.pop("JUPYTER_PATH", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra_env)
    return env


@contextlib.contextmanager
def jupyterlab(root: Path, home: Path, extra_env: dict[str, str] | None = None) -> Iterator[Lab]:
    """JupyterLab serving `root`, with every private directory under `home`; always stopped."""
    home.mkdir(parents=True, exist_ok=True)
    settings, workspaces = home / "settings", home / "workspaces"
    _write_settings(settings)
    workspaces.mkdir(exist_ok=True)
    token = secrets.token_hex(24)
    # The token goes by environment, not on the command line where `ps` would show it.
    env = {**_lab_env(home, extra_env or {}), "JUPYTER_TOKEN": token}
    # No "build is out of date" check from the page: the lab extensions are prebuilt.
    page_config = home / "config" / "labconfig" / "page_config.json"
    page_config.parent.mkdir(parents=True, exist_ok=True)
    page_config.write_text(json.dumps({"buildCheck": False, "buildAvailable": False}))
    log = home / "jupyterlab.log"
    lab = None
    try:
        for _attempt in range(3):  # the free port may be taken before the server binds it
            port = free_port()
            cmd = [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--allow-root",
                "--ip=127.0.0.1",
                f"--port={port}",
                "--ServerApp.port_retries=0",
                f"--ServerApp.root_dir={root}",
                f"--LabApp.user_settings_dir={settings}",
                f"--LabApp.workspaces_dir={workspaces}",
                "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LabApp.extension_manager=readonly",
            ]
            proc = start(cmd, log, cwd=root, env=env)
            lab = Lab(proc=proc, port=port, token=token, root=root, home=home, log=log)
            if _wait_ready(lab):
                break
            stop_group(proc)
            lab = None
        if lab is None:
            raise RuntimeError(f"JupyterLab did not start; its log ends:\n{_tail(log)}")
        yield lab
    finally:
        if lab is not None:
            try:
                # Shut the kernels down through the server first: the clean way.
                lab.join_pending()
                for kernel in lab.api("GET", "kernels"):
                    with contextlib.suppress(urllib.error.URLError):
                        lab.api("DELETE", f"kernels/{kernel['id']}", timeout=30)
            except (OSError, ValueError):
                pass
            try:
                stop_group(lab.proc)
            finally:
                stop_pids(lab.kernel_pids())


def _wait_ready(lab: Lab) -> bool:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if lab.proc.poll() is not None:
            return False
        with contextlib.suppress(OSError, ValueError):
            lab.api("GET", "status", timeout=2)
            return True
        time.sleep(0.25)
    return False


# ----------------------------------------------------------------------------- Chromium
@dataclass
class Chromium:
    proc: subprocess.Popen
    cdp_url: str
    profile: Path
    log: Path


@contextlib.contextmanager
def chromium(home: Path) -> Iterator[Chromium]:
    """Headless Chromium with a fresh profile, DevTools on a free local port; always stopped."""
    profile = home / "chromium-profile"
    profile.mkdir(parents=True, exist_ok=True)
    log = home / "chromium.log"
    cmd = [
        str(CHROMIUM),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",  # Chromium picks a port and writes it to DevToolsActivePort
        "about:blank",
    ]
    proc = start(cmd, log, env={**os.environ, "HOME": str(home)})
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + BROWSER_START_TIMEOUT
        port = None
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(OSError, ValueError, IndexError):
                port = int(active.read_text().splitlines()[0])
                break
            time.sleep(0.1)
        if port is None:
            raise RuntimeError(f"Chromium did not start; its output ends:\n{_tail(log)}")
        yield Chromium(proc=proc, cdp_url=f"http://127.0.0.1:{port}", profile=profile, log=log)
    finally:
        try:
            stop_group(proc)
        finally:
            # Helpers that left the group (a crash handler) still name the private profile.
            stop_pids(_pids_with_argument(str(profile)))


# ----------------------------------------------------------------------------- the notebook
# What the test reads from the page comes from one snapshot, evaluated in the browser, of the
# notebook in the current tab. JupyterLab renders an error output with the stderr MIME type,
# like a stream's; it is told apart by its text (`_looks_like_error`).
_SNAPSHOT_JS = r"""
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  const status = document.querySelector('#jp-main-statusbar');
  const broken = (img) => img.complete && img.naturalWidth === 0;
  const cells = [...panel.querySelectorAll('.jp-Notebook .jp-Cell')].map((cell, index) => {
    const code = cell.classList.contains('jp-CodeCell');
    const outputs = [...cell.querySelectorAll('.jp-OutputArea-child > .jp-OutputArea-output')]
      .map((el) => ({
        mime: el.getAttribute('data-mime-type') || '',
        text: (el.textContent || '').slice(0, 3000),
      }));
    const images = [...cell.querySelectorAll('.jp-OutputArea-output img')];
    return {
      index,
      code,
      prompt: code ? (cell.querySelector('.jp-InputPrompt')?.textContent || '').trim() : '',
      source: cell.querySelector('.cm-content')?.textContent || '',
      outputs,
      widget_images: images.filter((i) => i.matches('.widget-image')).map((i) => i.src),
      broken_images: images.filter(broken).length,
      // Display math wider than the cell: MathJax gives it a scroll bar, the end hidden.
      wide_math: [...cell.querySelectorAll('mjx-container[display="true"]')]
        .filter((m) => m.scrollWidth > m.clientWidth + 2)
        .map((m) => `${m.scrollWidth} px in ${m.clientWidth} px`),
      image_scales: images.filter((i) => i.naturalWidth > 0 && i.clientWidth > 0)
        .map((i) => [i.naturalWidth, i.clientWidth]),
    };
  });
  return {
    indicator: indicator ? indicator.getAttribute('data-status') : null,
    statusbar: status ? status.textContent : '',
    dialogs: [...document.querySelectorAll('.jp-Dialog')].map((d) => d.textContent.slice(0, 300)),
    cells,
  };
}
"""

_PROMPT_DONE = re.compile(r"^\[\d+\]:$")
# IPython's error outputs: a traceback, a SyntaxError-like last line, or SystemExit's notice.
_ERROR_TEXT = re.compile(
    r"Traceback \(most recent call last\)|^\w*(Error|Exception|Interrupt|Exit)\b"
    r"|An exception has occurred",
    re.M,
)
# What ipywidgets shows instead of a widget whose model or extension is missing.
_BROKEN_WIDGET_TEXT = re.compile(
    r"Error displaying widget|Loading widget\.\.\.|^\s*\w+\(children=\(|^\s*\w*(Box|Slider)\(",
)
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def snapshot(page) -> dict | None:
    return page.evaluate(_SNAPSHOT_JS)


def is_idle(snap: dict | None) -> bool:
    return bool(snap) and snap["indicator"] == "idle" and "| Idle" in snap["statusbar"]


def is_running(snap: dict | None) -> bool:
    return bool(snap) and any(c["prompt"] == "[*]:" for c in snap["cells"])


def wait_for(page, predicate, timeout: float, what: str, poll: float = 0.25, seen=None) -> dict:
    """Poll `snapshot(page)` until `predicate(snap)`; raise TimeoutError naming `what`.

    `seen`, a dict, collects `{cell index: set of widget image sources}` along the way: the
    frames a live widget (the training curves) showed while its cell ran.
    """
    deadline = time.monotonic() + timeout
    while True:
        snap = snapshot(page)
        if seen is not None and snap:
            for cell in snap["cells"]:
                seen.setdefault(cell["index"], set()).update(cell["widget_images"])
        if predicate(snap):
            return snap
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        page.wait_for_timeout(poll * 1000)


CURRENT = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook in the current tab
CURRENT_TAB = ".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current"


def _menu(page, menu: str, command: str) -> None:
    """Click a menu-bar menu, then its item for `command` (a JupyterLab command id)."""
    page.locator("#jp-menu-panel .lm-MenuBar-item", has_text=re.compile(f"^{menu}$")).click()
    page.locator(f'.lm-Menu-item[data-command="{command}"]').click()


def open_notebook(page, lab: Lab, relpath: str) -> dict:
    """Open a notebook and wait until its kernel is idle.

    The first time, the page loads JupyterLab with the notebook in a fresh layout (`reset`);
    after that, File > Open from Path..., as a student would, which saves reloading the app.
    """
    name = relpath.rsplit("/", 1)[-1]
    if page.locator("#jp-menu-panel").count():
        try:
            _menu(page, "File", "filebrowser:open-path")
            field = page.locator(".jp-Dialog input")
            field.fill(relpath)
            field.press("Enter")
            page.locator(CURRENT_TAB, has_text=name).wait_for(timeout=RUN_START_TIMEOUT * 1000)
        except Exception:  # anything odd on the page: start again from a fresh one
            page.goto(lab.notebook_url(relpath), wait_until="domcontentloaded")
    else:
        page.goto(lab.notebook_url(relpath), wait_until="domcontentloaded")
    page.locator(CURRENT_TAB, has_text=name).wait_for(timeout=NOTEBOOK_LOAD_TIMEOUT * 1000)
    page.wait_for_selector(f"{CURRENT} .jp-Notebook .jp-Cell", timeout=NOTEBOOK_LOAD_TIMEOUT * 1000)
    return wait_for(page, is_idle, NOTEBOOK_LOAD_TIMEOUT, f"the kernel of {relpath} to be idle")


def close_notebook(page, lab: Lab, relpath: str) -> None:
    """Close the notebook's tab, discarding the outputs, and shut its kernel down."""
    with contextlib.suppress(Exception):  # the next open_notebook reloads the page if needed
        tab = page.locator(CURRENT_TAB, has_text=relpath.rsplit("/", 1)[-1])
        tab.locator(".lm-TabBar-tabCloseIcon").click(timeout=5000)
        discard = page.locator(".jp-Dialog button", has_text="Discard")
        discard.click(timeout=5000)
        page.locator(".jp-Dialog").wait_for(state="detached", timeout=5000)
        tab.wait_for(state="detached", timeout=5000)
    lab.shutdown_kernel_of(relpath)


@dataclass
class Run:
    snap: dict  # the page after the last cell finished
    frames: dict[int, set[str]]  # widget image sources seen per cell while running
    seconds: float


def run_all_cells(page, timeout: float) -> Run:
    """Run > Run All Cells, as a student does, and wait until the last cell is done.

    The first Run All on a fresh page can be swallowed (no active cell yet): click into the
    first cell first, check that execution started, and retry once if it did not.
    """
    t0 = time.monotonic()
    frames: dict[int, set[str]] = {}
    prompts = [c["prompt"] for c in snapshot(page)["cells"]]

    def started(snap):  # a cell queued or running, or a prompt that changed since
        return is_running(snap) or [c["prompt"] for c in snap["cells"]] != prompts

    page.locator(f"{CURRENT} .jp-Notebook .jp-Cell .jp-InputArea-prompt").first.click()
    for attempt in range(2):
        _menu(page, "Run", "runmenu:run-all")
        try:
            wait_for(page, started, RUN_START_TIMEOUT, "Run All Cells to start", seen=frames)
            break
        except TimeoutError:
            page.keyboard.press("Escape")
            if attempt:
                raise AssertionError("Run > Run All Cells did not start (tried twice)") from None

    def finished(snap):
        return is_idle(snap) and not is_running(snap)

    wait_for(page, finished, timeout, "every cell to finish", seen=frames)
    page.wait_for_timeout(300)  # the last outputs and widget views attach
    snap = wait_for(page, finished, timeout, "every cell to finish", seen=frames)
    return Run(snap=snap, frames=frames, seconds=time.monotonic() - t0)


def _looks_like_error(out: dict) -> bool:
    return out["mime"] == "application/vnd.jupyter.stderr" and bool(_ERROR_TEXT.search(out["text"]))


def problems(snap: dict) -> list[str]:
    """Everything on the page a student would see as broken, one line each."""
    found = []
    for cell in snap["cells"]:
        where = f"cell {cell['index']}"
        for out in cell["outputs"]:
            if _looks_like_error(out):
                found.append(f"{where}: error output:\n{out['text'][-1500:]}")
            elif out["mime"] in ("", "text/plain", WIDGET_MIME) and _BROKEN_WIDGET_TEXT.search(
                out["text"]
            ):
                found.append(f"{where}: a widget did not render: {out['text'][:200]!r}")
        if cell["code"] and cell["source"].strip() and not _PROMPT_DONE.match(cell["prompt"]):
            found.append(f"{where}: not executed (prompt {cell['prompt']!r})")
        if cell["broken_images"]:
            found.append(f"{where}: {cell['broken_images']} image(s) failed to load")
        for size in cell.get("wide_math", []):
            found.append(f"{where}: display math wider than the cell ({size}): break the line")
    found += [f"dialog open: {text!r}" for text in snap["dialogs"]]
    return found


def shrunk_figures(snap: dict, below: float = 0.6) -> list[str]:
    """The figures JupyterLab shows at less than `below` of their width (it fits an image
    to the cell): their text is that much smaller than the figure's font sizes. For the
    walkthrough's log, not a failure: a wide diagram is shrunk by design."""
    found = []
    for cell in snap["cells"]:
        for natural, shown in cell.get("image_scales", []):
            if shown < below * natural:
                found.append(f"cell {cell['index']}: {shown}/{natural} px ({shown / natural:.0%})")
    return found


# ----------------------------------------------------------------------------- widgets
# An explorer of `lab01_utils.widgets`: a VBox holding the controls and the plot, an
# `ipywidgets.Image` (rendered as `img.widget-image`, its `src` a new blob URL per redraw).
EXPLORER = f"{CURRENT} .jp-Notebook .widget-vbox:has(> img.widget-image)"
EXPLORER_IMAGE = ":scope > img.widget-image"
CONTROLS = ".widget-slider, .widget-dropdown, .widget-checkbox, .widget-toggle-buttons"


def explorers(page):
    return page.locator(EXPLORER)


def cell_index(locator) -> int:
    return locator.evaluate(
        "el => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) "
        ".jp-Notebook .jp-Cell')].indexOf(el.closest('.jp-Cell'))"
    )


def image_src(box) -> str:
    return box.locator(EXPLORER_IMAGE).first.get_attribute("src") or ""


def has_controls(box) -> bool:
    return box.locator(CONTROLS).count() > 0


def move_control(page, box) -> str:
    """Move the explorer's first control as a student would; describe what was done."""
    control = box.locator(CONTROLS).first
    control.scroll_into_view_if_needed()
    label = (control.locator(".widget-label").first.text_content() or "").strip() or "control"
    classes = control.get_attribute("class") or ""
    if "widget-slider" in classes:
        return f"slider {label!r}: " + _drag_slider(page, control)
    if "widget-dropdown" in classes:
        select = control.locator("select")
        options = select.locator("option").all_text_contents()
        current = select.evaluate("el => el.selectedIndex")
        new = (current + 1) % len(options)
        select.select_option(index=new)
        return f"dropdown {label!r}: {options[current]!r} -> {options[new]!r}"
    if "widget-checkbox" in classes:
        control.locator("input").click()
        return f"checkbox {label!r} toggled"
    buttons = control.locator("button")
    pressed = buttons.evaluate_all("bs => bs.findIndex(b => b.classList.contains('mod-active'))")
    buttons.nth((pressed + 1) % buttons.count()).click()
    return f"toggle buttons {label!r}: option {pressed} -> {(pressed + 1) % buttons.count()}"


def _drag_slider(page, slider) -> str:
    """Drag the handle a quarter of the track or more; fall back to the arrow keys."""
    handle, track = slider.locator(".noUi-handle").first, slider.locator(".noUi-target").first
    readout = slider.locator(".widget-readout").first
    before = (readout.text_content() or "").strip()
    hb, tb = handle.bounding_box(), track.bounding_box()
    x, y = hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2
    left_half = x < tb["x"] + tb["width"] / 2
    target = tb["x"] + tb["width"] * (0.75 if left_half else 0.25)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(target, y, steps=8)
    page.mouse.up()
    page.wait_for_timeout(100)
    after = (readout.text_content() or "").strip()
    how = "dragged"
    if after == before:
        handle.focus()
        for _ in range(3):
            page.keyboard.press("ArrowRight" if left_half else "ArrowLeft")
        page.wait_for_timeout(100)
        after, how = (readout.text_content() or "").strip(), "arrow keys"
    return f"{before} -> {after} ({how})"


def wait_image_change(page, box, before: str, timeout: float) -> bool:
    """Whether the explorer's image shows a new, loaded picture within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    img = box.locator(EXPLORER_IMAGE).first
    while time.monotonic() < deadline:
        src = img.get_attribute("src") or ""
        if src and src != before and img.evaluate("i => i.complete && i.naturalWidth > 0"):
            return True
        page.wait_for_timeout(150)
    return False


# ----------------------------------------------------------------------------- screenshots
_TWO_FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def full_page_screenshot(page, path: Path, max_height: int = 16000) -> None:
    """A screenshot as tall as the notebook (JupyterLab scrolls inside the notebook panel)."""
    outer = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer"
    extra = page.evaluate(
        f"""() => {{
            const el = document.querySelector('{outer}');
            if (!el) return 0;
            el.scrollTo(0, 0);
            return el.scrollHeight - el.clientHeight;
        }}"""
    )
    size = page.viewport_size
    path.parent.mkdir(parents=True, exist_ok=True)
    if extra > 0:
        height = min(size["height"] + extra, max_height)
        page.set_viewport_size({"width": size["width"], "height": height})
        page.evaluate(_TWO_FRAMES)  # the relayout is painted
    try:
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)


def copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
