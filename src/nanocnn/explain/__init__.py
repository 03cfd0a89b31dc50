"""Look inside a network: what each layer computes for one input, forward and backward.

Small pure functions over NumPy and nanocnn's layers, used by the app's "Look inside" view
and as useful in a notebook:

- :func:`activations` and :func:`gradients` (:mod:`~nanocnn.explain.trace`): one input
  through the model, every layer's input and output, and the gradient of one output (a
  class's score) with respect to each, from the layers' own ``backward``, on a detached
  copy: the model is left as it was;
- :func:`explain_neuron` (:mod:`~nanocnn.explain.neuron`): how one output number of one
  layer is computed, with the numbers (a convolution's window, kernel and products...);
- :func:`without_skips`: a ResNet with its skip connections taken out, to compare
  gradients with and without them.

>>> trace = gradients(model, x, target=3)  # doctest: +SKIP
>>> explain_neuron(trace, "0", (2, 10, 7)).total  # doctest: +SKIP
"""

from nanocnn.explain.neuron import (
    ConvNeuron,
    DenseNeuron,
    Neuron,
    PassNeuron,
    PoolNeuron,
    explain_neuron,
)
from nanocnn.explain.trace import (
    Column,
    Trace,
    activations,
    first_conv,
    first_conv_maps,
    gradients,
    has_skips,
    skipless_name,
    without_skips,
)

__all__ = [
    "Column",
    "ConvNeuron",
    "DenseNeuron",
    "Neuron",
    "PassNeuron",
    "PoolNeuron",
    "Trace",
    "activations",
    "explain_neuron",
    "first_conv",
    "first_conv_maps",
    "gradients",
    "has_skips",
    "skipless_name",
    "without_skips",
]
