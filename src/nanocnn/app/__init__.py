"""The web app: draw a digit or upload a picture, and the network says what it is; then look
inside it.

It serves any model through its task (:mod:`nanocnn.tasks`): a sketchpad for digit-like
models (one channel, 28×28, read the MNIST way), an upload box (and the webcam, where the
browser allows) for the rest, with the top classes by name, or a regression's answer (an age
in years). Beside the answer, what the network saw: its input as a picture, the feature maps
of its first convolution, and where it looked (a saliency map: the size of the input gradient
of the chosen class). Below, "Look inside" shows every layer's output for the input, forward
and backward, and how any one number was computed; and, for a model whose run recorded
snapshots, how its filters formed over the epochs.

- :mod:`.reading`: what the page shows for one input (plain functions);
- :mod:`.inside`, :mod:`.columns`, :mod:`.neuron_view`: the "Look inside" section, on
  :mod:`nanocnn.explain`;
- :mod:`.training_view`: the epochs of training, from the run's ``snapshots.npz``;
- :mod:`.page`: the page itself, and ``launch``.

>>> model = nanocnn.load("runs/images/model.npz")  # doctest: +SKIP
>>> launch(model, nanocnn.tasks.task_of(model))  # doctest: +SKIP
"""

from nanocnn.app.page import build_app, launch
from nanocnn.app.reading import Reading, predict, read_input

__all__ = ["Reading", "build_app", "launch", "predict", "read_input"]
