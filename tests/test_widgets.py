"""Tests for `lab01_utils/widgets.py`: drive each explorer from Python, as a user would."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest
from helpers import AUGMENTATION, EVERYTHING, LAYERS

from lab01_utils import metrics
from lab01_utils.augment import apply_augmentation
from lab01_utils.config import TrainConfig
from lab01_utils.data import CLASS_NAMES, load_sample
from lab01_utils.models import build_numpy_model, build_torch_model
from lab01_utils.nn import sigmoid
from lab01_utils.runs import format_log_line
from lab01_utils.train import train
from lab01_utils.widgets import (
    TrainingCurves,
    augmentation_explorer,
    feature_map_explorer,
    silu_explorer,
)

SMALL_WIDTHS = (4, 8, 8)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sample():
    x, y = load_sample("test")
    return x[:20], y[:20]


def assert_shows(explorer, count: int) -> None:
    """The explorer has drawn `count` times and its Image widget holds the latest PNG."""
    assert explorer.redraw_count == count
    assert explorer.png.startswith(PNG_MAGIC)
    assert explorer.image.value == explorer.png


# --------------------------------------------------------------------------- SiLU


def test_silu_explorer_redraws_with_the_new_beta():
    e = silu_explorer()
    assert isinstance(e.widget, widgets.VBox) and isinstance(e.beta, widgets.FloatSlider)
    assert e.image in e.widget.children
    assert_shows(e, 1)
    first_png = e.png
    assert "β = 1" in e.figure.axes[0].get_title()

    e.beta.value = 2.0
    assert_shows(e, 2)
    assert e.png != first_png
    assert "β = 2" in e.figure.axes[0].get_title()
    swish = e.figure.axes[0].lines[0]
    x = swish.get_xdata()
    np.testing.assert_allclose(swish.get_ydata(), x * sigmoid(2.0 * x), rtol=1e-12)


def test_explorer_mimebundle_is_the_widget():
    e = silu_explorer()
    bundle = e._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


# --------------------------------------------------------------------------- augmentation


@pytest.mark.needs(*AUGMENTATION)
def test_augmentation_explorer_controls(sample):
    x, y = sample
    e = augmentation_explorer(x, y)
    assert (e.shift_x.min, e.shift_x.max, e.shift_y.min, e.shift_y.max) == (-2, 2, -2, 2)
    assert e.index.max == len(x) - 1
    assert_shows(e, 1)

    e.shift_x.value = 2
    assert_shows(e, 2)
    shown = e.figure.axes[1].images[0].get_array()
    np.testing.assert_array_equal(shown, apply_augmentation(x[0].reshape(28, 28), 2, 0, False))
    assert e.figure.axes[1].get_title() == "shift_x=2, shift_y=0, flip=False"

    e.flip.value = True
    e.shift_y.value = -1
    assert_shows(e, 4)
    shown = e.figure.axes[1].images[0].get_array()
    np.testing.assert_array_equal(shown, apply_augmentation(x[0].reshape(28, 28), 2, -1, True))

    e.index.value = 5
    assert_shows(e, 5)
    np.testing.assert_array_equal(e.figure.axes[0].images[0].get_array(), x[5].reshape(28, 28))
    assert e.figure.get_suptitle() == f"image 5: {CLASS_NAMES[y[5]]}"


@pytest.mark.needs(*AUGMENTATION)
def test_augmentation_explorer_draw_redraws_once(sample):
    e = augmentation_explorer(*sample)
    e.draw.click()  # the button: one draw of the training augmentation
    assert_shows(e, 2)
    title = f"shift_x={e.shift_x.value}, shift_y={e.shift_y.value}, flip={e.flip.value}"
    assert e.figure.axes[1].get_title() == title
    # draws follow the lab's recipe (shifts of at most 1 pixel) and cover all of -1..1
    seen = set()
    for _ in range(40):
        e.draw.click()
        seen.update((e.shift_x.value, e.shift_y.value))
    assert seen == {-1, 0, 1}


@pytest.mark.needs(*AUGMENTATION)
def test_augmentation_explorer_with_a_wider_max_shift(sample):
    e = augmentation_explorer(*sample, max_shift=3)
    assert (e.shift_x.min, e.shift_x.max) == (-3, 3)
    seen = set()
    for _ in range(60):
        e.draw.click()
        seen.add(e.shift_x.value)
    assert seen == set(range(-3, 4))


# --------------------------------------------------------------------------- feature maps


@pytest.mark.needs(*LAYERS)
def test_feature_map_explorer(sample):
    x, y = sample
    model = build_numpy_model(SMALL_WIDTHS, seed=1)
    e = feature_map_explorer(model, x, y)
    assert list(e.layer.options) == metrics.feature_map_layers(model)
    assert_shows(e, 1)
    assert e.maps.shape == (4, 28, 28)

    e.layer.value = "layer2.0"
    assert_shows(e, 2)
    assert e.maps.shape == (8, 7, 7)
    assert e.figure.get_suptitle().startswith("layer2.0, image 0 (true ")

    e.index.value = 3
    assert_shows(e, 3)
    np.testing.assert_array_equal(e.maps, metrics.feature_maps(model, x[3:4], "layer2.0"))
    channels = [ax for ax in e.figure.axes if ax.images and ax.get_title().startswith("ch ")]
    assert len(channels) == 8
    np.testing.assert_array_equal(channels[5].images[0].get_array(), e.maps[5])


@pytest.mark.needs(*LAYERS)
def test_feature_map_explorer_takes_a_torch_model(sample):
    x, _ = sample
    e = feature_map_explorer(build_torch_model(SMALL_WIDTHS, seed=1), x, layer="layer3.1")
    assert e.maps.shape == (8, 4, 4)
    assert "predicted" in e.figure.get_suptitle()


# --------------------------------------------------------------------------- training curves


def fake_history(n: int) -> list[dict]:
    return [
        {
            "epoch": e,
            "lr": 0.03,
            "train_loss": 2.0 / e,
            "train_acc": 40.0 + 10 * e,
            "val_loss": 1.8 / e,
            "val_acc": 45.0 + 10 * e,
            "train_time": 1.0,
            "epoch_time": 1.25,
        }
        for e in range(1, n + 1)
    ]


@pytest.mark.needs(*LAYERS)
def test_training_curves_callback_redraws_and_keeps_the_data():
    curves = TrainingCurves(name="numpy")
    assert isinstance(curves.widget, widgets.VBox) and curves.image in curves.widget.children
    assert_shows(curves, 1)
    assert curves.histories == {}

    history = fake_history(1)
    curves(history)
    assert_shows(curves, 2)
    history.append(fake_history(2)[1])  # train() keeps appending to its list ...
    assert len(curves.histories["numpy"]) == 1  # ... the widget holds its own copy
    curves(history)
    assert_shows(curves, 3)
    ax_loss = curves.figure.axes[0]
    np.testing.assert_allclose(ax_loss.lines[0].get_ydata(), [2.0, 1.0])
    assert format_log_line(history[-1]) in curves.log.value

    curves.for_run("torch")(fake_history(1))
    assert_shows(curves, 4)
    assert list(curves.histories) == ["numpy", "torch"]
    labels = [ln.get_label() for ln in curves.figure.axes[1].lines]
    assert labels == ["numpy train", "numpy val", "torch train", "torch val"]


def test_training_curves_tolerates_partial_records():
    record = {"epoch": 1, "train_loss": 1.0, "val_loss": 1.0, "train_acc": 1.0, "val_acc": 1.0}
    curves = TrainingCurves(histories={"a": [record]})
    assert_shows(curves, 1)
    assert curves.log.value.count("Epoch") == 0  # no lr or times: no log line, no error


@pytest.mark.needs(*EVERYTHING)
def test_training_curves_as_a_train_callback(tmp_path):
    x, y = load_sample("train")
    xt, yt = load_sample("test")
    cfg = TrainConfig.for_profile(
        "quick", task="numpy", widths=SMALL_WIDTHS, batch_size=10, epochs=2, milestones=(1,)
    )
    curves = TrainingCurves(name="tiny")
    history = train(
        cfg,
        out_dir=tmp_path,
        quiet=True,
        callbacks=[curves],
        data=(x[:40], y[:40], xt[:20], yt[:20]),
    )
    assert_shows(curves, 1 + cfg.epochs)
    assert curves.histories["tiny"] == history


def test_an_explorer_shows_one_output_the_widget_with_its_figure_beside(monkeypatch):
    """`display()` draws once: one output holding the live view and, for viewers without the
    widget, the same figure as a PNG (not a second copy above the controls)."""
    import base64

    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.append((a, k)))
    e = silu_explorer()
    e.display()
    assert len(shown) == 1 and shown[0][1] == {"raw": True, "display_id": True}
    bundle = shown[0][0][0]
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]) == e.png
    assert "image/png" not in e.mimebundle(static=False)


def test_live_training_curves_end_as_one_output_with_the_final_figure(monkeypatch):
    """The notebooks show the curves live (`display(static=False)`), then `finish()`: the
    same output is updated in place to hold the final figure's PNG beside the live view, so
    JupyterLab shows one figure and a saved notebook shows the last one. Never displayed,
    `finish()` shows the PNG alone."""
    import base64

    import IPython.display

    shown, updates = [], []

    class Handle:
        def update(self, obj, **kw):
            updates.append((obj, kw))

    def fake_display(*a, **k):
        shown.append((a, k))
        return Handle() if k.get("display_id") else None

    monkeypatch.setattr(IPython.display, "display", fake_display)
    curves = TrainingCurves(name="numpy")
    curves.display(static=False)
    assert "image/png" not in shown[0][0][0]
    curves(fake_history(2))
    curves.finish()
    assert len(shown) == 1 and len(updates) == 1  # no second output
    bundle, kw = updates[0]
    assert kw == {"raw": True} and "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]) == curves.png

    alone = TrainingCurves(name="pretrained")
    alone(fake_history(2))
    alone.finish()
    assert len(shown) == 2 and isinstance(shown[1][0][0], IPython.display.Image)
