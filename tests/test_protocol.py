"""A layer of one's own (issue 12, item 4): the short protocol ``forward(x, training)`` /
``backward(dout)`` works everywhere the library calls a layer, and one call,
``register_layer``, makes it savable; saving an unregistered one is a clear error."""

from __future__ import annotations

import numpy as np
import pytest

import nanocnn as nc
from nanocnn.layers import LAYER_TYPES, layer_spec, layer_type_name
from nanocnn.training import fit


@pytest.fixture(autouse=True)
def registry():
    """Each test registers its own classes; the registry is restored afterwards."""
    saved = dict(LAYER_TYPES)
    yield
    LAYER_TYPES.clear()
    LAYER_TYPES.update(saved)


class Scale(nc.Layer):
    """y = x * weight per feature, written to the short, documented protocol."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.features = features
        self.params = {"weight": np.ones(features, dtype=np.float32)}
        self.grads = {"weight": np.zeros(features, dtype=np.float32)}

    def config(self):
        return {"features": self.features}

    def forward(self, x, training=False):
        self._x = x if training else None
        return x * self.params["weight"]

    def backward(self, dout):
        self.grads["weight"][...] = (dout * self._x).sum(axis=0)
        return dout * self.params["weight"]


def data(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def test_a_short_protocol_layer_first_in_the_model_trains_with_fit():
    """The trainer skips the first parameter layer's input gradient: a layer whose backward
    takes only ``dout`` is called without ``input_grad`` and trains as well."""
    model = nc.Sequential(Scale(4), nc.Dense(4, 2, rng=0))
    x, y = data()
    history = fit(
        model, nc.SoftmaxCrossEntropy(), nc.SGD(model.parameters(), lr=0.5), x, y, 5, 16,
        progress="off",
    )  # fmt: skip
    assert history["loss"][-1] < history["loss"][0]
    assert not np.allclose(model[0].params["weight"], 1)


def test_every_built_in_layer_takes_input_grad_and_keep():
    from nanocnn.layers.base import accepts

    for cls in LAYER_TYPES.values():
        assert accepts(cls.backward, "input_grad"), cls
        assert accepts(cls.forward, "keep"), cls


def test_a_registered_layer_saves_and_loads(tmp_path):
    assert nc.register_layer(Scale) is Scale  # usable as a decorator
    model = nc.Sequential(Scale(4), nc.Dense(4, 2, rng=0))
    model[0].params["weight"][...] = [1, 2, 3, 4]
    loaded = nc.load(nc.save(model, tmp_path / "scale.npz"))
    assert isinstance(loaded[0], Scale) and loaded[0].features == 4
    x, _ = data(3)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_saving_an_unregistered_layer_says_how_to_register_it(tmp_path):
    model = nc.Sequential(Scale(4))
    with pytest.raises(ValueError, match=r"Scale is not registered: call nanocnn\.register_layer"):
        nc.save(model, tmp_path / "scale.npz")
    assert not (tmp_path / "scale.npz").exists()
    with pytest.raises(ValueError, match="not registered"):
        layer_type_name(Scale(2))


def test_a_name_clash_is_refused_and_a_redefinition_replaces():
    with pytest.raises(ValueError, match=r"that name is nanocnn\.layers\.conv\.Conv2D's"):
        nc.register_layer(type("Conv2D", (nc.Layer,), {}))
    nc.register_layer(Scale)
    redefined = type("Scale", (Scale,), {"__module__": Scale.__module__})
    redefined.__qualname__ = Scale.__qualname__
    nc.register_layer(redefined)  # as when a notebook cell runs again
    assert LAYER_TYPES["Scale"] is redefined
    with pytest.raises(TypeError, match="takes a Layer subclass"):
        nc.register_layer(int)


def test_a_config_must_hold_only_json_values():
    class Odd(Scale):
        def config(self):
            return {"features": np.int64(self.features)}

    nc.register_layer(Odd)
    with pytest.raises(ValueError, match=r"Odd.config\(\) must hold only JSON values.*'features'"):
        layer_spec(Odd(3))


def test_a_short_protocol_layer_in_the_middle_works_with_input_grad_false():
    model = nc.Sequential(nc.Dense(4, 4, rng=0), Scale(4), nc.Dense(4, 2, rng=1))
    x, _ = data(5)
    out = model.forward(x, training=True)
    assert model.backward(np.ones_like(out), input_grad=False) is None
    assert model[1].grads["weight"].any()
