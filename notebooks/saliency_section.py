# Cells for notebooks/cnn_from_scratch.py, section 8 ("Looking inside"), to go after the
# misclassified digits and before "## 9. Where to go next", once the tree has
# Sequential.input_gradient and nanocnn.saliency. To splice them in:
#   1. add `saliency` to the notebook's `from nanocnn import kernels, metrics, plots, reference`;
#   2. paste everything below the line of dashes, from its first `# %% [markdown]`, in place;
#   3. in the title cell's list, make item 8 "Looking inside: filters, feature maps, mistakes,
#      saliency";
#   4. delete this file and its entry in pyproject's [tool.ruff.lint.per-file-ignores], then
#      regenerate the .ipynb as notebooks/README.md says.
# ------------------------------------------------------------------------------------------

# %% [markdown]
# **Where the network looks: saliency.** Which pixels decided an answer? Take the score the
# network gives a class $k$, its logit $s_k(x)$, and ask how much it moves when one pixel
# changes: that is the input gradient $\partial s_k / \partial x$. It is the backward pass of
# section 6 once more, started from $s_k$ instead of the loss and carried all the way back to
# the image instead of stopping at the weights. `model.input_gradient(x, target)` computes it
# in inference mode (no dropout) and leaves the model as it was: weights, gradients and caches
# untouched.
#
# A **saliency map** is the size of that gradient at each pixel, scaled to [0, 1] for each
# image (Simonyan et al., 2014), with $g = \partial s_k / \partial x$:
#
# $$m[h, w] = \frac{\max_c \lvert g[c, h, w] \rvert}{\max_{c, h, w} \lvert g[c, h, w] \rvert}$$
#
# Bright pixels are those where a little more or less ink would move the score most.
# `saliency.saliency_map(model, x, target)` gives one map per image, for the class `target`,
# or for the predicted class when `target` is None.

# %%
digits = mnist.x_test[:6]  # (6, 1, 28, 28)
gradient = model.input_gradient(digits, predicted[:6])  # (6, 1, 28, 28): d score / d pixel
maps = saliency.saliency_map(model, digits)  # (6, 28, 28) in [0, 1], the predicted classes
size = np.abs(gradient).max(axis=1)  # (6, 28, 28): the largest over the channels
np.testing.assert_allclose(maps, size / size.max(axis=(1, 2), keepdims=True), rtol=1e-5)

fig, axes = plt.subplots(2, 6, figsize=(13, 4.8))
for column, (digit, digit_map) in enumerate(zip(digits, maps, strict=True)):
    axes[0, column].imshow(digit[0], cmap="gray")
    axes[0, column].set_title(f"predicted {predicted[column]}")
    axes[1, column].imshow(digit_map, cmap="hot", vmin=0, vmax=1)
for ax in axes.flat:
    ax.axis("off")
fig.suptitle("Six test digits (top) and where the network looks for its answer (bottom)")
fig.tight_layout()
show(fig)

# %% [markdown]
# The map depends on the question. Here is the first digit again, with the map of every class's
# score: the pixels that would make it more of a 7 are not those that would make it more of
# a 1 or a 9.

# %%
first = np.repeat(digits[:1], 10, axis=0)  # the same digit, once per class: (10, 1, 28, 28)
class_maps = saliency.saliency_map(model, first, target=np.arange(10))  # (10, 28, 28)
fig, axes = plt.subplots(1, 10, figsize=(13, 1.9))
for k, ax in enumerate(axes):
    ax.imshow(class_maps[k], cmap="hot", vmin=0, vmax=1)
    ax.set_title(f"class {k}")
    ax.axis("off")
fig.suptitle(f"Test digit 0 (label {mnist.y_test[0]}): the saliency of each class's score")
fig.tight_layout()
show(fig)
