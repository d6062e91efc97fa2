"""Interactive explorers for the notebooks (ipywidgets 8) and a live training-curves callback.

Every explorer draws one of `plots`' figures, renders it to PNG and puts the bytes into an
`ipywidgets.Image`: that works in JupyterLab, while a cell is still running (training), and
without a browser (tests, nbval). Each one has:

    .widget          the ipywidgets container to display
    .<control>       its controls (`.beta`, `.index`, `.shift_x`, `.layer`, ...)
    .figure          the latest matplotlib Figure
    .png             that figure as PNG bytes (the Image widget's value)
    .redraw_count    how many times it has drawn (1 after construction)
    .show_static()   display the current figure as a plain PNG, which a saved notebook keeps
    .display()       the live widget, with that PNG in the same output for other viewers
    .finish()        after a live run: the final figure's PNG into that same output

Changing a control's `.value` redraws at once, so a test can write `e.beta.value = 2.0` and
inspect `e.figure`.
"""

from __future__ import annotations

import base64
import contextlib
import html
from collections.abc import Callable, Iterator, Mapping, Sequence

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from . import metrics, plots
from .augment import draw_augmentation_params
from .config import MAX_SHIFT
from .formats import CLASS_NAMES
from .runs import format_log_line

__all__ = [
    "AugmentationExplorer",
    "Explorer",
    "FeatureMapExplorer",
    "SiluExplorer",
    "TrainingCurves",
    "augmentation_explorer",
    "feature_map_explorer",
    "silu_explorer",
]

DPI = 80  # PNG resolution of the widgets: sharp enough, and fast to redraw


class Explorer:
    """Base class: a figure redrawn into an `ipywidgets.Image` whenever a control changes.

    Subclasses create their controls, then call `super().__init__(controls)` and implement
    `make_figure()`.
    """

    def __init__(self, controls: Sequence[widgets.Widget], dpi: float = DPI):
        self.dpi = dpi
        self.figure: Figure | None = None
        self.png = b""
        self.redraw_count = 0
        self._held = 0
        self._shown = None  # the output display() made (an IPython DisplayHandle)
        self.controls = list(controls)
        self.image = widgets.Image(format="png", layout=widgets.Layout(align_self="flex-start"))
        box = widgets.HBox(self.controls, layout=widgets.Layout(flex_flow="row wrap"))
        self.widget = widgets.VBox([box, self.image] if self.controls else [self.image])
        for c in self.controls:
            if "value" in c.trait_names():
                c.observe(self._on_change, names="value")
        self.redraw()

    def make_figure(self) -> Figure:
        raise NotImplementedError

    def redraw(self) -> None:
        """Draw the figure for the controls' current values and show it in the widget."""
        self.figure = self.make_figure()
        self.png = plots.figure_to_png(self.figure, self.dpi)
        self.image.value = self.png
        self.redraw_count += 1

    def _on_change(self, change) -> None:
        if not self._held:
            self.redraw()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Change several controls and redraw once, at the end."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
        if not self._held:
            self.redraw()

    def show_static(self) -> None:
        """Display the current figure as a plain PNG (visible without a running kernel)."""
        from IPython.display import Image, display

        display(Image(data=self.png))

    def display(self, static: bool = True) -> None:
        """Show the live widget, drawn once. With `static` (the default) the same output also
        carries the current figure as a PNG, which a viewer without the running widget (a
        saved notebook on a web page) shows in its place."""
        from IPython.display import display

        self._shown = display(self.mimebundle(static), raw=True, display_id=True)

    def finish(self) -> None:
        """Put the figure as it is now, as a PNG, into the output `display()` made, beside the
        live view, so a saved notebook shows the final figure where the widget was (one
        figure, not a second copy below); never displayed: show the PNG (`show_static`)."""
        if self._shown is None:
            self.show_static()
        else:
            self._shown.update(self.mimebundle(static=True), raw=True)

    def mimebundle(self, static: bool = True) -> dict:
        """The widget's output: its view and, with `static`, the figure as `image/png`."""
        bundle = view_bundle(self.widget)
        if static:
            bundle["image/png"] = base64.b64encode(self.png).decode("ascii")
        return bundle

    def _repr_mimebundle_(self, **kwargs):
        return view_bundle(self.widget, **kwargs)


def view_bundle(widget, **kwargs) -> dict:
    """A widget's output bundle (its view's model id, and its repr as text) on ipywidgets 8,
    which has `_repr_mimebundle_`, and on 7.7 (Colab's), which displays through
    `_ipython_display_` and builds the same bundle there."""
    if hasattr(widget, "_repr_mimebundle_"):
        return dict(widget._repr_mimebundle_(**kwargs))
    return {
        "text/plain": repr(widget),
        "application/vnd.jupyter.widget-view+json": {
            "version_major": 2,
            "version_minor": 0,
            "model_id": widget._model_id,
        },
    }


# --------------------------------------------------------------------------- SiLU


class SiluExplorer(Explorer):
    """`plots.plot_silu` with a slider for beta (Swish-beta; beta = 1 is SiLU)."""

    def __init__(self, beta: float = 1.0, x_range: tuple[float, float] = (-6, 6)):
        self.x_range = x_range
        self.beta = widgets.FloatSlider(
            value=beta,
            min=0.1,
            max=5.0,
            step=0.1,
            description="beta",
            continuous_update=False,
            readout_format=".1f",
        )
        super().__init__([self.beta])

    def make_figure(self) -> Figure:
        return plots.plot_silu(self.beta.value, self.x_range)


def silu_explorer(beta: float = 1.0, x_range: tuple[float, float] = (-6, 6)) -> SiluExplorer:
    """Swish-beta / SiLU beside ReLU and sigmoid, and their derivatives, with a beta slider."""
    return SiluExplorer(beta, x_range)


# --------------------------------------------------------------------------- augmentation


class AugmentationExplorer(Explorer):
    """One training image before and after a shift/flip chosen on the controls.

    Controls: `.index` (which image), `.shift_x`, `.shift_y` (-2..2 pixels, or wider for a
    larger `max_shift`: the report's shifts reached 2), `.flip`, and the button `.draw` that
    draws the three amounts as training does (`augment.draw_augmentation_params` with
    `max_shift`, the lab's recipe's 1 by default; one redraw).
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray | None = None,
        index: int = 0,
        max_shift: int = MAX_SHIFT,
        class_names: Sequence[str] = CLASS_NAMES,
        seed: int = 0,
    ):
        self.x, self.y, self.class_names = np.asarray(x), y, class_names
        self.rng = np.random.default_rng(seed)
        self.max_shift = max_shift
        self.index = widgets.IntSlider(
            value=index, min=0, max=len(self.x) - 1, description="image", continuous_update=False
        )
        reach = max(2, max_shift)
        shift = {"min": -reach, "max": reach, "value": 0}
        self.shift_x = widgets.IntSlider(description="shift_x", **shift)
        self.shift_y = widgets.IntSlider(description="shift_y", **shift)
        self.flip = widgets.Checkbox(value=False, description="flip")
        self.draw = widgets.Button(description="draw like training")
        self.draw.on_click(lambda _: self.draw_random())
        super().__init__([self.index, self.shift_x, self.shift_y, self.flip, self.draw])

    def draw_random(self) -> None:
        """Set the shifts and the flip to one random draw of the training augmentation."""
        sx, sy, fl = draw_augmentation_params(1, self.rng, self.max_shift)
        with self.hold():
            self.shift_x.value, self.shift_y.value = int(sx[0]), int(sy[0])
            self.flip.value = bool(fl[0])

    def make_figure(self) -> Figure:
        i = self.index.value
        title = f"image {i}"
        if self.y is not None:
            title += f": {self.class_names[int(self.y[i])]}"
        return plots.plot_augmentation(
            self.x[i], self.shift_x.value, self.shift_y.value, self.flip.value, title=title
        )


def augmentation_explorer(
    x: np.ndarray, y: np.ndarray | None = None, index: int = 0, max_shift: int = MAX_SHIFT
) -> AugmentationExplorer:
    """Pick an image (`x`: `(N, 784)` or `(N, 1, 28, 28)`) and shift/flip it by hand."""
    return AugmentationExplorer(x, y, index, max_shift)


# --------------------------------------------------------------------------- feature maps


class FeatureMapExplorer(Explorer):
    """The channels of one layer's output for one image; `.index` and `.layer` choose which.

    The model runs in eval mode (running BatchNorm statistics); a torch model is converted to
    NumPy once, at construction.
    """

    def __init__(
        self,
        model,
        x: np.ndarray,
        y: np.ndarray | None = None,
        layer: str = "stem",
        index: int = 0,
        max_channels: int = 16,
        class_names: Sequence[str] = CLASS_NAMES,
    ):
        self.model = metrics.numpy_model(model)
        self.x, self.y, self.class_names = np.asarray(x), y, class_names
        self.max_channels = max_channels
        self.index = widgets.IntSlider(
            value=index, min=0, max=len(self.x) - 1, description="image", continuous_update=False
        )
        self.layer = widgets.Dropdown(
            options=metrics.feature_map_layers(self.model), value=layer, description="layer"
        )
        self.maps: np.ndarray | None = None
        super().__init__([self.index, self.layer])

    def make_figure(self) -> Figure:
        i, layer = self.index.value, self.layer.value
        img = self.x[i : i + 1]
        self.maps = metrics.feature_maps(self.model, img, layer)  # (C, H, W)
        pred = int(metrics.predict_logits(self.model, img).argmax())
        title = f"{layer}, image {i}"
        if self.y is not None:
            title += f" (true {self.class_names[int(self.y[i])]}"
            title += f", predicted {self.class_names[pred]})"
        else:
            title += f" (predicted {self.class_names[pred]})"
        return plots.plot_feature_maps(
            self.maps, title, max_channels=self.max_channels, image=self.x[i]
        )


def feature_map_explorer(
    model, x: np.ndarray, y: np.ndarray | None = None, layer: str = "stem", index: int = 0
) -> FeatureMapExplorer:
    """Browse the feature maps of `model` (NumPy or torch) on images `x` (pixels 0..255)."""
    return FeatureMapExplorer(model, x, y, layer, index)


# --------------------------------------------------------------------------- training


class TrainingCurves(Explorer):
    """A `train()` callback that redraws loss and accuracy curves after every epoch.

    `train(cfg, callbacks=[curves])` calls `curves(history)` with the whole history so far;
    the curves are recorded under `curves.name`. For several runs in one figure, pass
    `curves.for_run("Task 2 (PyTorch)")` as the callback of the second run, or add a finished
    history with `curves.update(name, history)`.

    Attributes:
        histories: `{run name: history}` as drawn.
        widget: the PNG of the curves and, under it, each run's last report-format log line.
    """

    def __init__(
        self,
        name: str = "run",
        histories: Mapping[str, Sequence[Mapping]] | None = None,
        title: str | None = None,
    ):
        self.name, self.title = name, title
        self.histories: dict[str, list[dict]] = {
            k: [dict(r) for r in v] for k, v in (histories or {}).items()
        }
        self.log = widgets.HTML()
        super().__init__([])
        self.widget.children = (self.image, self.log)

    def __call__(self, history: Sequence[Mapping]) -> None:
        self.update(self.name, history)

    def update(self, name: str, history: Sequence[Mapping]) -> None:
        """Record `history` (a list of per-epoch dicts) as run `name` and redraw."""
        self.histories[name] = [dict(r) for r in history]
        self.redraw()

    def for_run(self, name: str) -> Callable[[Sequence[Mapping]], None]:
        """A callback for `train()` that records under `name` in this figure."""
        return lambda history: self.update(name, history)

    def make_figure(self) -> Figure:
        return plots.plot_training_curves(self.histories, self.title)

    def redraw(self) -> None:
        super().redraw()
        lines = []
        for name, h in self.histories.items():
            try:
                lines.append(f"{html.escape(name)}: {html.escape(format_log_line(h[-1]))}")
            except (IndexError, KeyError):  # no epoch yet, or a history without every field
                continue
        self.log.value = f"<pre style='font-size: 11px'>{'<br>'.join(lines)}</pre>"
