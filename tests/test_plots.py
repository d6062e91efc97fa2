"""Tests for `lab01_utils/metrics.py` and `lab01_utils/plots/`: the metrics, the model helpers
and every figure."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import AUGMENTATION, LAYERS
from matplotlib.figure import Figure

from lab01_utils import metrics, plots
from lab01_utils.augment import apply_augmentation
from lab01_utils.data import CLASS_NAMES, load_sample
from lab01_utils.images import to_images
from lab01_utils.models import build_numpy_model, build_torch_model, torch_state_to_numpy
from lab01_utils.nn import im2col, sigmoid
from lab01_utils.plots import layers as plot_layers

SMALL_WIDTHS = (4, 8, 16)  # the lab's architecture, narrow, so forward passes are instant
# NumPy float32 vs torch float32 on the same weights: a few ulps of the largest logit.
PARITY_ATOL_F32 = 1e-4


@pytest.fixture(scope="module")
def sample():
    x, y = load_sample("test")
    return x, y


@pytest.fixture(scope="module")
def small_model():
    return build_numpy_model(SMALL_WIDTHS, seed=3)


def image_axes(fig: Figure):
    return [ax for ax in fig.axes if ax.images]


def labelled_lines(ax):
    """The axis's data lines (axhline/axvline guides carry no label)."""
    return [ln for ln in ax.lines if not ln.get_label().startswith("_")]


# --------------------------------------------------------------------------- metrics


def test_confusion_matrix_counts_pairs():
    y_true = np.array([0, 0, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 2, 0, 2])
    cm = metrics.confusion_matrix(y_true, y_pred, num_classes=3)
    want = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert cm.dtype == np.int64
    np.testing.assert_array_equal(cm, want)
    assert cm.sum() == len(y_true) and np.trace(cm) == (y_true == y_pred).sum()


def test_confusion_matrix_matches_a_loop(rng):
    y_true, y_pred = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    want = np.zeros((10, 10), np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        want[t, p] += 1
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred), want)


def test_confusion_matrix_rejects_bad_labels():
    with pytest.raises(ValueError, match="y_pred"):
        metrics.confusion_matrix(np.array([0, 1]), np.array([0, 10]))
    with pytest.raises(ValueError, match=r"\(N,\)"):
        metrics.confusion_matrix(np.array([0, 1]), np.array([0]))


def test_per_class_accuracy_is_the_row_recall_and_nan_for_absent_classes():
    acc = metrics.per_class_accuracy(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), num_classes=3)
    np.testing.assert_allclose(acc[:2], [50.0, 100.0])
    assert np.isnan(acc[2])


# --------------------------------------------------------------------------- models


@pytest.mark.needs(*LAYERS)
def test_feature_map_layers_are_the_image_shaped_layers(small_model):
    assert metrics.feature_map_layers(small_model) == [
        "stem",
        "layer1.0",
        "layer1.1",
        "layer2.0",
        "layer2.1",
        "layer3.0",
        "layer3.1",
        "bn",
        "act",
    ]


@pytest.mark.needs(*LAYERS)
@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        ("stem", (4, 28, 28)),
        ("layer1.0", (4, 14, 14)),
        ("layer1.1", (4, 14, 14)),
        ("layer1", (4, 14, 14)),
        ("layer2.0", (8, 7, 7)),
        ("layer2.1", (8, 7, 7)),
        ("layer3.0", (16, 4, 4)),
        ("layer3.1", (16, 4, 4)),
        ("bn", (16, 4, 4)),
        ("act", (16, 4, 4)),
    ],
)
def test_feature_maps_shapes(small_model, sample, layer, shape):
    maps = metrics.feature_maps(small_model, sample[0][:1], layer)
    assert maps.shape == shape
    assert np.isfinite(maps).all()


@pytest.mark.needs(*LAYERS)
def test_feature_maps_values_and_input_forms(small_model, sample):
    x = sample[0][:1]  # uint8 (1, 784)
    small_model.eval()
    want = small_model.stem(to_images(x))[0]
    small_model.train()
    for form in (x, to_images(x), to_images(x).reshape(1, 784), x[0], x[0].reshape(28, 28)):
        np.testing.assert_allclose(metrics.feature_maps(small_model, form, "stem"), want, rtol=1e-6)
    # the stage name means its last block
    np.testing.assert_array_equal(
        metrics.feature_maps(small_model, x, "layer2"),
        metrics.feature_maps(small_model, x, "layer2.1"),
    )


@pytest.mark.needs(*LAYERS)
def test_feature_maps_use_eval_mode_and_leave_the_model_as_it_was(small_model, sample):
    before = small_model.state_dict()
    small_model.train()
    metrics.feature_maps(small_model, sample[0][:1], "layer3.1")
    assert small_model.training
    after = small_model.state_dict()
    for k in before:  # running statistics untouched: eval mode
        np.testing.assert_array_equal(before[k], after[k])


@pytest.mark.needs(*LAYERS)
def test_feature_maps_errors(small_model, sample):
    with pytest.raises(ValueError, match="unknown layer 'layer4'"):
        metrics.feature_maps(small_model, sample[0][:1], "layer4")
    with pytest.raises(ValueError, match="not feature maps"):
        metrics.feature_maps(small_model, sample[0][:1], "fc")
    with pytest.raises(ValueError, match="one image"):
        metrics.feature_maps(small_model, sample[0][:2], "stem")


@pytest.mark.needs(*LAYERS)
def test_torch_model_is_converted_with_its_weights(sample):
    tmodel = build_torch_model(SMALL_WIDTHS, seed=5)
    model = metrics.numpy_model(tmodel)
    for k, v in torch_state_to_numpy(tmodel.state_dict()).items():
        np.testing.assert_array_equal(model.state_dict()[k], v)
    x = sample[0][:8]
    np.testing.assert_allclose(
        metrics.predict_logits(model, x), metrics.predict_logits(tmodel, x), atol=PARITY_ATOL_F32
    )
    assert metrics.feature_maps(tmodel, x[:1], "layer1.0").shape == (4, 14, 14)
    with pytest.raises(TypeError):
        metrics.numpy_model(object())


@pytest.mark.needs(*LAYERS)
def test_predict_logits_batches_and_restores_the_mode(small_model, sample):
    x = sample[0][:30]
    small_model.train()
    out = metrics.predict_logits(small_model, x, batch_size=7)
    assert out.shape == (30, 10) and small_model.training
    np.testing.assert_allclose(
        out, metrics.predict_logits(small_model, x, batch_size=30), rtol=1e-5
    )


@pytest.mark.needs(*LAYERS)
def test_layer_table_default_model():
    model = build_numpy_model()
    rows = metrics.layer_table(model)
    assert [r.name for r in rows] == [
        "input",
        "reshape",
        "stem",
        "layer1.0",
        "layer1.1",
        "layer2.0",
        "layer2.1",
        "layer3.0",
        "layer3.1",
        "bn",
        "act",
        "pool",
        "fc",
    ]
    shapes = {r.name: r.shape for r in rows}
    assert shapes["input"] == (1, 784) and shapes["reshape"] == (1, 1, 28, 28)
    assert shapes["stem"] == (1, 32, 28, 28) and shapes["layer1.1"] == (1, 32, 14, 14)
    assert shapes["layer2.1"] == (1, 64, 7, 7) and shapes["layer3.1"] == (1, 128, 4, 4)
    assert shapes["pool"] == (1, 128) and shapes["fc"] == (1, 10)
    total = sum(p.data.size for p in model.parameters())
    assert sum(r.params for r in rows) == total == 696_682
    assert {r.name: r.params for r in rows}["stem"] == 32 * 9
    text = metrics.format_layer_table(rows)
    assert text.splitlines()[-1].split()[-1] == "696,682"


@pytest.mark.needs(*LAYERS)
def test_layer_table_params_per_row_small_model(small_model):
    rows = metrics.layer_table(small_model)
    for r in rows:
        if r.name.startswith("layer"):
            stage, block = r.name.split(".")
            module = getattr(small_model, stage)[int(block)]
            assert r.params == sum(p.data.size for p in module.parameters())
    assert sum(r.params for r in rows) == sum(p.data.size for p in small_model.parameters())


# --------------------------------------------------------------------------- figures


def test_figure_to_png_bytes():
    fig = plots.plot_lr_schedule()
    png = plots.figure_to_png(fig, dpi=40)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_plot_class_grid(sample):
    x, y = sample
    fig = plots.plot_class_grid(x, y, per_class=5)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    mosaic = ax.images[0].get_array()
    assert mosaic.shape == (10 * 30 - 2, 5 * 30 - 2)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [f"{c}: {n}" for c, n in enumerate(CLASS_NAMES)]
    # row 3, column 2 is the third image of class 3
    i = np.flatnonzero(y == 3)[2]
    np.testing.assert_array_equal(mosaic[90:118, 60:88], x[i].reshape(28, 28))


def test_plot_pixel_statistics(sample):
    fig = plots.plot_pixel_statistics(sample[0])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["pixel values (log count)", "mean image", "std image"]
    mean_img = fig.axes[1].images[0].get_array()
    np.testing.assert_allclose(mean_img, sample[0].reshape(-1, 28, 28).mean(0))


@pytest.mark.parametrize("beta", [1.0, 0.5, 2.5])
def test_plot_silu(beta):
    fig = plots.plot_silu(beta=beta, x_range=(-4, 4))
    ax_f, ax_d = fig.axes
    assert f"β = {beta:g}" in ax_f.get_title() and f"β = {beta:g}" in ax_d.get_title()
    assert (beta == 1) == ax_f.get_title().startswith("SiLU")
    assert [ln.get_label() for ln in labelled_lines(ax_f)] == ["swish", "relu", "sigmoid"]
    assert [ln.get_label() for ln in labelled_lines(ax_d)] == ["swish'", "relu'", "sigmoid'"]
    x = ax_f.lines[0].get_xdata()
    assert x[0] == -4 and x[-1] == 4
    np.testing.assert_allclose(ax_f.lines[0].get_ydata(), x * sigmoid(beta * x), rtol=1e-12)
    # the derivative panel is the derivative of the function panel
    numeric = np.gradient(ax_f.lines[0].get_ydata(), x)
    np.testing.assert_allclose(ax_d.lines[0].get_ydata()[1:-1], numeric[1:-1], atol=1e-3)


@pytest.mark.needs(*AUGMENTATION)
def test_plot_augmentation(sample):
    img = sample[0][7]
    fig = plots.plot_augmentation(img, shift_x=1, shift_y=-2, flip=True, title="seven")
    a, b = image_axes(fig)
    np.testing.assert_array_equal(a.images[0].get_array(), img.reshape(28, 28))
    want = apply_augmentation(img.reshape(28, 28), 1, -2, True)
    np.testing.assert_array_equal(b.images[0].get_array(), want)
    assert b.get_title() == "shift_x=1, shift_y=-2, flip=True"
    assert fig.get_suptitle() == "seven"


def test_plot_augmentation_before_the_exercise_is_written(sample, monkeypatch):
    """In the student release `apply_augmentation` is a stub until Exercise 7.3 (notebook 07);
    notebook 00's explorer must still draw the original and say what is missing."""

    def stub(*args, **kwargs):
        raise NotImplementedError("Exercise 7.3: the augmentation")

    monkeypatch.setattr(plot_layers, "apply_augmentation", stub)
    fig = plots.plot_augmentation(sample[0][0], shift_x=2)
    assert len(image_axes(fig)) == 1
    assert fig.axes[1].get_title() == "shift_x=2, shift_y=0, flip=False"
    assert "Exercise 7.3" in fig.axes[1].texts[0].get_text()


@pytest.mark.parametrize(("stride", "padding", "rows"), [(1, 0, 4), (2, 1, 4), (1, 1, 16)])
def test_plot_im2col(stride, padding, rows):
    fig = plots.plot_im2col(stride=stride, padding=padding)
    ax_x, ax_c = fig.axes
    x = np.arange(1, 17, dtype=np.float64).reshape(4, 4)
    np.testing.assert_array_equal(ax_x.images[0].get_array(), np.pad(x, padding))
    cols = ax_c.images[0].get_array()
    assert cols.shape == (rows, 9)
    np.testing.assert_array_equal(cols, im2col(x[None, None], 3, stride, padding))
    assert f"padding {padding}, stride {stride}" in ax_x.get_title()


def test_plot_feature_maps(rng):
    maps = rng.standard_normal((20, 5, 5))
    fig = plots.plot_feature_maps(maps, "layer2.0", max_channels=16)
    shown = image_axes(fig)
    assert len(shown) == 16
    np.testing.assert_array_equal(shown[3].images[0].get_array(), maps[3])
    assert "layer2.0" in fig.get_suptitle() and "20 x 5 x 5" in fig.get_suptitle()
    fig = plots.plot_feature_maps(maps[:3], image=np.zeros((28, 28), np.uint8))
    assert [ax.get_title() for ax in image_axes(fig)] == ["input", "ch 0", "ch 1", "ch 2"]
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        plots.plot_feature_maps(maps[0])


def fake_history(n: int, offset: float = 0.0) -> list[dict]:
    return [
        {
            "epoch": e,
            "lr": 0.03,
            "train_loss": 2.0 / e + offset,
            "train_acc": 50 + e,
            "val_loss": 1.5 / e + offset,
            "val_acc": 55 + e,
            "train_time": 1.0,
            "epoch_time": 1.5,
        }
        for e in range(1, n + 1)
    ]


def test_plot_training_curves():
    h1, h2 = fake_history(3), fake_history(2, offset=0.1)
    fig = plots.plot_training_curves({"numpy": h1, "torch": h2}, title="both")
    ax_l, ax_a = fig.axes
    assert ax_l.get_title() == "loss" and ax_a.get_title() == "accuracy (%)"
    assert [ln.get_label() for ln in ax_l.lines] == [
        "numpy train",
        "numpy val",
        "torch train",
        "torch val",
    ]
    np.testing.assert_allclose(ax_l.lines[0].get_ydata(), [r["train_loss"] for r in h1])
    np.testing.assert_allclose(ax_a.lines[3].get_ydata(), [r["val_acc"] for r in h2])
    np.testing.assert_array_equal(ax_a.lines[2].get_xdata(), [1, 2])
    assert fig.get_suptitle() == "both"
    # a bare list is one run; no epochs yet draws empty axes with a note
    assert plots.plot_training_curves(h1).axes[0].lines[0].get_label() == "run train"
    empty = plots.plot_training_curves({"numpy": []})
    assert not empty.axes[0].lines and "waiting" in empty.axes[0].texts[0].get_text()


def test_plot_lr_schedule():
    h = fake_history(4)
    fig = plots.plot_lr_schedule(0.03, epochs=30, milestones=(15, 25), histories={"run": h})
    ax = fig.axes[0]
    sched = ax.lines[0]
    assert sched.get_label() == "MultiStepLR"
    np.testing.assert_array_equal(sched.get_xdata(), np.arange(1, 31))
    np.testing.assert_allclose(sched.get_ydata(), [0.03] * 15 + [0.003] * 10 + [0.0003] * 5)
    assert ax.get_yscale() == "log"
    assert ax.lines[1].get_label() == "run (recorded)"


def test_plot_confusion_matrix():
    cm = np.arange(100).reshape(10, 10)
    fig = plots.plot_confusion_matrix(cm, title="cm")
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), cm)
    assert ax.get_title() == "cm" and ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    assert [t.get_text() for t in ax.get_xticklabels()] == list(CLASS_NAMES)
    assert len(ax.texts) == 100
    shown = plots.plot_confusion_matrix(cm, normalize=True).axes[0].images[0].get_array()
    np.testing.assert_allclose(shown.sum(axis=1)[1:], 100.0)


def test_plot_misclassified(sample):
    x, y = sample
    pred = y.copy()
    pred[[3, 10, 20]] = (y[[3, 10, 20]] + 1) % 10
    fig = plots.plot_misclassified(x, y, pred, n=16)
    shown = image_axes(fig)
    assert len(shown) == 3
    np.testing.assert_array_equal(shown[1].images[0].get_array(), x[10].reshape(28, 28))
    assert shown[0].get_title() == f"{CLASS_NAMES[y[3]]}\n→ {CLASS_NAMES[pred[3]]}"
    assert "3 of 500" in fig.get_suptitle()
    none = plots.plot_misclassified(x, y, y)
    assert not image_axes(none) and "no misclassified" in none.axes[0].texts[0].get_text()


def test_plot_per_class_accuracy():
    acc = {"a": np.linspace(10, 100, 10), "b": np.linspace(5, 95, 10)}
    fig = plots.plot_per_class_accuracy(acc)
    ax = fig.axes[0]
    assert len(ax.containers) == 2
    np.testing.assert_allclose([p.get_height() for p in ax.containers[1]], acc["b"])
    assert [t.get_text() for t in ax.get_xticklabels()] == list(CLASS_NAMES)


def test_plot_step_losses():
    fig = plots.plot_step_losses({"NumPy": [2.0, 1.5, 1.0], "PyTorch": [2.0, 1.5001, 1.0]})
    ax_l, ax_d = fig.axes
    assert [ln.get_label() for ln in ax_l.lines] == ["NumPy", "PyTorch"]
    rel = ax_d.lines[0].get_ydata()
    np.testing.assert_allclose(rel, [1e-12, 1e-4 / 1.5, 1e-12], rtol=1e-6)


def test_plot_channel_stats(rng):
    x = rng.standard_normal((6, 3, 4, 4)) * 2 + 1
    fig = plots.plot_channel_stats({"x": x})
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), x.std(axis=(0, 2, 3)))


def test_plot_images(sample):
    fig = plots.plot_images(sample[0][:5], [str(i) for i in range(5)], ncols=3, suptitle="five")
    shown = image_axes(fig)
    assert len(shown) == 5 and len(fig.axes) == 6  # 2 x 3 grid, one blank
    assert [ax.get_title() for ax in shown] == ["0", "1", "2", "3", "4"]


# JupyterLab fits an image to its cell: about 806 px wide in a 1280 px window with the file
# browser open (measured in tests/test_browser.py's screenshots). Below 9 px text is hard to
# read on a laptop screen.
NOTEBOOK_WIDTH_PX = 806
SMALLEST_TEXT_PX = 9.0


def _diagrams():
    import importlib
    import inspect
    import pkgutil

    from lab01_utils.plots import diagrams

    for m in pkgutil.iter_modules(diagrams.__path__):
        mod = importlib.import_module(f"{diagrams.__name__}.{m.name}")
        for name, fn in inspect.getmembers(mod, inspect.isfunction):
            needs = [p for p in inspect.signature(fn).parameters.values() if p.default is p.empty]
            if name.startswith("plot_") and fn.__module__ == mod.__name__ and not needs:
                yield pytest.param(fn, id=f"{m.name}.{name}")  # (not those drawn from data)


@pytest.mark.parametrize("draw", list(_diagrams()))
def test_every_diagrams_text_is_readable_at_the_notebooks_width(draw):
    """The smallest text of each diagram (with its gradients, where it has them), once the
    PNG the notebook shows is fitted to the cell's width, is at least SMALLEST_TEXT_PX."""
    import io

    from matplotlib.image import imread
    from matplotlib.text import Text

    kw = {"backward": True} if "backward" in draw.__code__.co_varnames else {}
    fig = draw(**kw)
    width = imread(io.BytesIO(plots.figure_to_png(fig))).shape[1]
    shown = min(1.0, NOTEBOOK_WIDTH_PX / width)
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip()]
    smallest = min(sizes) * fig.dpi / 72 * shown
    assert smallest >= SMALLEST_TEXT_PX, (
        f"{draw.__name__}: its smallest text shows at {smallest:.1f} px ({min(sizes):g} pt, "
        f"a {width} px figure at {shown:.0%}); make the figure narrower or its text larger"
    )


def test_a_graphs_labels_take_the_largest_size_that_fits_their_boxes():
    """The size follows the tightest box's width (here 1.5x the box, 1.5x the size) up to
    MAX_FONTSIZE; a size given by the caller is kept."""
    from lab01_utils.plots.diagrams.graph import MAX_FONTSIZE, Edge, Node, plot_graph

    def label_size(width, **kw):
        nodes = {
            "a": Node(0, 0, "a fairly long label", width=width, height=2.0),
            "b": Node(4, 0, "b"),
        }
        fig = plot_graph(nodes, [Edge("a", "b")], scale=1.0, **kw)
        return next(t.get_fontsize() for t in fig.axes[0].texts if t.get_text() == "b")

    narrow, wide = label_size(1.0), label_size(1.5)
    assert 7 < narrow < wide < MAX_FONTSIZE and wide == pytest.approx(1.5 * narrow, rel=0.03)
    assert label_size(30.0) == MAX_FONTSIZE
    assert label_size(1.0, fontsize=12) == 12
