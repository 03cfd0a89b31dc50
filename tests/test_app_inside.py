"""The app's "Look inside" view without a browser: the HTML its functions give, read back
(every number is in a ``data-`` attribute) and held to computations of the test's own; for
the bundled digits model, a pictures model trained by ``nanocnn train --task images``, a
ResNet and an age model; and the training view of a run's snapshots."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from test_app import STROKES, draw, shape_picture

from nanocnn import reference
from nanocnn.app.columns import Pick
from nanocnn.app.inside import BACKWARD, look, neuron, score_choices
from nanocnn.app.reading import prepared
from nanocnn.app.training_view import epoch_html, snapshots_beside
from nanocnn.cli import main
from nanocnn.cli.app import BUNDLED_MODEL
from nanocnn.datasets import make_synthetic_folder
from nanocnn.io import load, save
from nanocnn.layers import Sequential
from nanocnn.layers.activations import softmax
from nanocnn.layers.state import detached
from nanocnn.losses import SoftmaxCrossEntropy
from nanocnn.optim import Adam
from nanocnn.preprocess import preprocess_digit
from nanocnn.presets import build
from nanocnn.tasks import task_of
from nanocnn.training import fit
from nanocnn.training.snapshots import SNAPSHOTS_FILE, Snapshots

SEVEN = {"composite": draw(STROKES["7"])}  # the Sketchpad's value


class Node:
    """An element of parsed HTML: its tag, attributes, children and text."""

    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node] = []
        self.text = ""

    def find(self, tag: str | None = None, **wanted: str) -> list[Node]:
        """Descendants with ``tag`` and the attributes ``wanted`` (``data_column`` stands for
        ``data-column``; ``class_`` for one of the classes)."""
        found = []
        for child in self.children:
            attrs = {k.replace("_", "-").rstrip("-"): v for k, v in wanted.items()}
            classes = child.attrs.get("class", "").split()
            if (tag is None or child.tag == tag) and all(
                v in classes if k == "class" else child.attrs.get(k) == v for k, v in attrs.items()
            ):
                found.append(child)
            found += child.find(tag, **wanted)
        return found

    def numbers(self, dtype: type = np.float64) -> np.ndarray:
        """The exact numbers (``data-v``) of the cells of a table, in reading order."""
        return np.array([node.attrs["data-v"] for node in self.find("td")], dtype=dtype)


class Parser(HTMLParser):
    VOID: ClassVar[set[str]] = {"img", "br", "hr", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.root = self.current = Node("root", {}, None)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in self.VOID:
            self.current = node

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.current.parent is not None:
            self.current = self.current.parent

    def handle_data(self, data: str) -> None:
        self.current.text += data


def parse(html: str) -> Node:
    parser = Parser()
    parser.feed(html)
    return parser.root


def attr(node: Node, name: str) -> float:
    return float(node.attrs[name])


@pytest.fixture(scope="module")
def model() -> Sequential:
    return load(BUNDLED_MODEL)


def check_maps(column: Node, values: np.ndarray, kind: str = "map") -> None:
    """Each map of ``column`` (or its grid of units) states the sum, minimum and maximum of
    ``values`` (C, H, W) or (K,)."""
    maps = column.find("img", class_=kind)
    parts = values if values.ndim == 3 else values[np.newaxis]
    assert len(maps) == len(parts)
    for image, part in zip(maps, parts.astype(np.float64), strict=True):
        scale = float(np.abs(values).max())
        assert attr(image, "data-sum") == pytest.approx(part.sum(), rel=1e-5, abs=1e-6 * scale)
        assert attr(image, "data-min") == pytest.approx(part.min(), rel=1e-6)
        assert attr(image, "data-max") == pytest.approx(part.max(), rel=1e-6)


def test_the_columns_are_every_layers_output(model: Sequential) -> None:
    columns, panel = look(model, task_of(model), prepared(model, task_of(model), SEVEN))
    page = parse(columns)
    names = [column.attrs["data-column"] for column in page.find("div", class_="col")]
    assert names == ["input", *(str(k) for k in range(len(model))), "answer"]
    x = preprocess_digit(SEVEN["composite"])[np.newaxis]
    (image,) = page.find("img", class_="input")
    shown = np.array(image.attrs["data-values"].split(","), np.float32).reshape(x.shape)
    np.testing.assert_array_equal(shown, x)  # the drawing, read the MNIST way
    for k in range(len(model)):
        (column,) = page.find("div", data_column=str(k))
        check_maps(column, model[: k + 1].forward(x)[0])
    expected = softmax(model.predict(x))[0]
    answer = {node.attrs["data-class"]: attr(node, "data-v") for node in page.find("div")
              if "data-class" in node.attrs}  # fmt: skip
    assert max(answer, key=answer.get) == "7" and len(answer) == 5
    assert answer == pytest.approx({str(k): expected[k] for k in map(int, answer)}, rel=1e-6)
    assert "Click a number" in panel


def test_the_backward_columns_are_the_gradients_of_the_score(model: Sequential) -> None:
    task = task_of(model)
    columns, _ = look(model, task, prepared(model, task, SEVEN), BACKWARD, score=3)
    page = parse(columns)
    assert page.find("div", class_="look")[0].attrs["data-target"] == "3"
    x = preprocess_digit(SEVEN["composite"])[np.newaxis]
    for k in range(len(model) - 1):
        activation = model[: k + 1].forward(x)
        grad = model[k + 1 :].input_gradient(activation, 3)[0]
        (column,) = page.find("div", data_column=str(k))
        check_maps(column, grad)
        if k == 3:  # Conv2D(6, 16, 5): the gradient of each filter, by the reference loops
            _, dweight, _ = reference.conv2d_backward(
                model[:3].forward(x), model[3].params["weight"], grad[np.newaxis]
            )
            check_maps(column, dweight.reshape(16, 6 * 5, 5), kind="kernel-grad")
    (last,) = page.find("div", data_column=str(len(model) - 1))
    check_maps(last, np.eye(10)[3])


def test_a_clicked_convolution_pixel_shows_its_arithmetic(model: Sequential) -> None:
    pick = Pick("3", 5, 2, 4)  # map 5 of Conv2D(6, 16, 5), row 2, column 4
    html = neuron(model, prepared(model, task_of(model), SEVEN), BACKWARD, 3, True, pick)
    panel = parse(html)
    assert panel.find("div", class_="neuron")[0].attrs["data-position"] == "5,2,4"
    x = preprocess_digit(SEVEN["composite"])[np.newaxis]
    inputs = model[:3].forward(x)[0]  # (6, 12, 12)
    weight, bias = model[3].params["weight"][5], float(model[3].params["bias"][5])
    total = 0.0
    for c in range(6):
        (row,) = panel.find("div", data_channel=str(c))
        patch = inputs[c, 2:7, 4:9]
        (shown,) = row.find("table", data_role="patch")
        np.testing.assert_array_equal(shown.numbers(np.float32).reshape(5, 5), patch)
        (kernel,) = row.find("table", data_role="kernel")
        np.testing.assert_array_equal(kernel.numbers(np.float32).reshape(5, 5), weight[c])
        products = patch.astype(np.float64) * weight[c]
        (shown,) = row.find("table", data_role="products")
        np.testing.assert_allclose(shown.numbers().reshape(5, 5), products, rtol=1e-8)
        (channel_sum,) = row.find("td", data_role="channel-sum")
        assert attr(channel_sum, "data-v") == pytest.approx(products.sum(), rel=1e-8)
        total += products.sum()
    value = {node.attrs["data-role"]: attr(node, "data-v") for node in panel.find("td")
             if node.attrs.get("data-role") in ("sum", "bias", "total", "value", "activated",
                                                "grad")}  # fmt: skip
    assert value["sum"] == pytest.approx(total, rel=1e-8)
    assert value["bias"] == pytest.approx(bias, rel=1e-8)
    assert value["total"] == pytest.approx(total + bias, rel=1e-8)
    assert value["value"] == pytest.approx(model[:4].forward(x)[0, 5, 2, 4], rel=1e-6)
    assert value["activated"] == pytest.approx(max(value["value"], 0.0), abs=1e-12)
    grad = model[4:].input_gradient(model[:4].forward(x), 3)[0, 5, 2, 4]
    assert value["grad"] == pytest.approx(grad, rel=1e-5, abs=1e-9)


def test_a_pool_window_and_a_dense_unit(model: Sequential) -> None:
    x = prepared(model, task_of(model), SEVEN)
    pool = parse(neuron(model, x, "forward", -1, True, Pick("5", 9, 1, 2)))
    window = model[:5].forward(x)[0, 9, 2:4, 4:6]
    (table,) = pool.find("table", data_role="window")
    np.testing.assert_array_equal(table.numbers(np.float32).reshape(2, 2), window)
    (winner,) = table.find("td", class_="win")
    assert attr(winner, "data-v") == window.max()
    # Dense 120 -> 84's 84 units are a 10 x 9 grid, row by row: row 2, column 3 is unit 21
    dense = parse(neuron(model, x, "forward", -1, True, Pick("9", -1, 2, 3)))
    assert dense.find("div", class_="neuron")[0].attrs["data-position"] == "21"
    contributions = model[:9].forward(x)[0].astype(np.float64) * model[9].params["weight"][21]
    top = np.argsort(-np.abs(contributions), kind="stable")[:10]
    rows = dense.find("tr")[:10]
    assert [int(row.attrs["data-input"]) for row in rows] == top.tolist()
    shown = [attr(row.find("td", data_role="contribution")[0], "data-v") for row in rows]
    np.testing.assert_allclose(shown, contributions[top], rtol=1e-8)


def test_a_pictures_model_trained_from_the_command_line_opens_in_the_view(
    tmp_path: Path,
) -> None:
    folder = make_synthetic_folder(tmp_path / "shapes", per_class=20, broken=0)
    out = tmp_path / "run"
    argv = ["train", "--task", "images", "--data-dir", str(folder), "--epochs", "1"]
    with pytest.warns(UserWarning, match="skipped 2 entries"):  # a hidden and a text file
        assert main([*argv, "--out", str(out)]) == 0
    trained = load(out / "model.npz")
    task = task_of(trained)
    x = task.prepare(trained, shape_picture())[np.newaxis]
    columns, _ = look(trained, task, x, BACKWARD, score=1)
    page = parse(columns)
    names = [column.attrs["data-column"] for column in page.find("div", class_="col")]
    assert names == ["input", *(str(k) for k in range(len(trained))), "answer"]
    assert {node.attrs["data-class"] for node in page.find("div") if "data-class" in node.attrs} \
        == {"circle", "square", "triangle"}  # fmt: skip
    (first,) = page.find("div", data_column="0")
    check_maps(first, trained[1:].input_gradient(trained[:1].forward(x), 1)[0])
    conv = parse(neuron(trained, x, "forward", -1, True, Pick("0", 4, 0, 0)))
    assert len(conv.find("div", class_="row")) == 3  # the window of each colour channel
    snapshots = snapshots_beside(out / "model.npz")  # `nanocnn train` records them
    assert snapshots is not None and snapshots.epochs.tolist() == [0, 1]
    np.testing.assert_array_equal(snapshots.filters[-1], trained[0].params["weight"])


def test_a_resnet_opens_in_the_view_with_and_without_its_skips(picture_model) -> None:
    resnet = build("resnet", (3, 32, 32), outputs=3, seed=0)
    resnet.metadata.update({**picture_model.metadata, "preset": "resnet"})
    task = task_of(resnet)
    x = task.prepare(resnet, shape_picture())[np.newaxis]
    columns, _ = look(resnet, task, x, BACKWARD, score=2)
    page = parse(columns)
    assert "5.shortcut.0" in [c.attrs["data-column"] for c in page.find("div", class_="col")]
    rows = page.find("tr")[1:]
    convs = ["0", *(f"{b}.body.{k}" for b in (3, 5, 7) for k in (0, 3)), "5.shortcut.0",
             "7.shortcut.0"]  # fmt: skip
    assert sorted(row.attrs["data-layer"] for row in rows) == sorted(convs)
    bodies = Sequential(*(getattr(layer, "body", layer) for layer in resnet))  # no skips
    for place, network in enumerate((resnet, bodies)):
        copy = detached(network)  # backward from the score of class 2, the model's way
        copy.forward(x, training=False, keep=True)
        copy.backward(np.eye(3, dtype=np.float32)[[2]])
        norms = {name.removesuffix(".weight"): np.linalg.norm(grad)
                 for name, grad in copy.grads.items() if grad.ndim == 4}  # fmt: skip
        for row in rows:
            name = row.attrs["data-layer"]
            cell = row.find("td")[place]
            key = name if network is resnet else name.replace(".body.", ".")
            if key in norms:
                assert attr(cell, "data-v") == pytest.approx(norms[key], rel=1e-4)
            else:
                assert "skip path" in cell.text and key.endswith("shortcut.0")
    plain, _ = look(resnet, task, x, BACKWARD, score=2, skips=False)
    names = [c.attrs["data-column"] for c in parse(plain).find("div", class_="col")]
    assert "3.0" in names and not any("body" in name or "shortcut" in name for name in names)


def test_an_age_model_opens_in_the_view() -> None:
    age = build("age_cnn", (3, 16, 16), outputs=1, seed=0)
    age.metadata.update(
        task="age", input_shape=[3, 16, 16], image_size=16, target_mean=30.0, target_std=10.0
    )
    task = task_of(age)
    assert score_choices(age, task) == [("the output", 0)]
    x = task.prepare(age, shape_picture())[np.newaxis]
    columns, _ = look(age, task, x, BACKWARD, score=0)
    page = parse(columns)
    assert page.find("div", class_="look")[0].attrs["data-target"] == "0"
    (answer,) = page.find("p", data_role="answer")
    assert answer.text == task.describe(age, age.predict(x)[0])


def test_the_training_view_shows_the_epoch_the_slider_picks(tmp_path: Path) -> None:
    lenet = build("lenet")
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 64)
    save(lenet, tmp_path / "model.npz")
    callback = Snapshots(tmp_path / SNAPSHOTS_FILE, x[0])
    fit(lenet, SoftmaxCrossEntropy(), Adam(lenet.parameters(), 1e-2), x, y, epochs=2,
        callbacks=[callback], progress="off")  # fmt: skip
    history = snapshots_beside(tmp_path / "model.npz")
    assert history is not None and history.epochs.tolist() == [0, 1, 2]
    for epoch in (0, 2):
        page = parse(epoch_html(history, epoch))
        assert page.find("div", class_="look")[0].attrs["data-epoch"] == str(epoch)
        filters = page.find("img", class_="filter")
        sums = [attr(image, "data-sum") for image in filters]
        expected = history.filters[epoch].astype(np.float64).sum(axis=(1, 2, 3))
        np.testing.assert_allclose(sums, expected, rtol=1e-6)
        maps = page.find("img", class_="map")
        np.testing.assert_allclose(
            [attr(image, "data-sum") for image in maps],
            history.maps[epoch].astype(np.float64).sum(axis=(1, 2)),
            rtol=1e-6,
        )
    np.testing.assert_array_equal(history.filters[2], lenet[0].params["weight"])
