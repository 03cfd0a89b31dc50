# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # How a CNN works, built from nanocnn's own pieces
#
# This notebook opens up a convolutional neural network (CNN) and builds one, step by step, from
# the pieces of **nanocnn**: a CNN library written from scratch in NumPy, where every forward and
# backward pass is a few lines you can read. You need to know NumPy; you do not need to know
# anything about neural networks.
#
# 1. Images as arrays
# 2. Convolution by hand: kernels, stride, padding, output size
# 3. From loops to one matrix product: im2col
# 4. Pooling, forward and backward
# 5. The forward pass of a whole network
# 6. The backward pass, derived, and checked by the library's gradient checker
# 7. Training a small CNN on MNIST
# 8. Looking inside: filters, feature maps, mistakes, saliency
# 9. Skip connections: why deep networks train
# 10. Where to go next
#
# Every layer used here is the library's own, and so are the slow loops that show what a layer
# computes: `nanocnn.reference` keeps one obviously correct loop version of convolution and
# pooling, the one the library's tests hold the fast layers to. The whole notebook runs in a few
# minutes on a laptop CPU.

# %%
import copy
import inspect
import shutil
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Code, Image, display
from matplotlib.patches import Rectangle

import nanocnn as nc
from nanocnn import kernels, metrics, plots, reference, saliency
from nanocnn.datasets import load_mnist
from nanocnn.gradcheck import numerical_gradient, relative_error
from nanocnn.training import CosineLR, fit

# %matplotlib inline
plt.rcParams.update({"figure.dpi": 72, "font.size": 10})
np.set_printoptions(precision=3, suppress=True, linewidth=100)
rng = np.random.default_rng(0)  # every random number in this notebook comes from a seed
FIGURES = Path(tempfile.mkdtemp(prefix="nanocnn-notebook-"))  # nanocnn.plots writes PNGs here


def show(fig):
    # Display a Matplotlib figure drawn here, then close it.
    display(fig)
    plt.close(fig)


def show_png(path):
    # Display a PNG written by one of nanocnn.plots' functions.
    display(Image(filename=str(path)))


def draw_grid(ax, values, title, cmap="Greys", fmt="{:g}", vmin=None, vmax=None):
    # Draw a small 2-D array as coloured cells with each number written in its cell.
    values = np.asarray(values, dtype=float)
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax)
    for (i, j), value in np.ndenumerate(values):
        if np.isfinite(value):
            red, green, blue, _ = image.cmap(image.norm(value))
            dark = 0.3 * red + 0.6 * green + 0.1 * blue < 0.5
            ax.text(
                j,
                i,
                fmt.format(value),
                ha="center",
                va="center",
                fontsize=9,
                color="white" if dark else "black",
            )
    ax.set_xticks(range(values.shape[1]))
    ax.set_yticks(range(values.shape[0]))
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.set_title(title)
    return image


print(f"nanocnn {nc.__version__}, NumPy {np.__version__}")

# %% [markdown]
# ## 1. Images as arrays
#
# To a computer a grayscale image is a 2-D array of brightness values. nanocnn, like PyTorch,
# keeps a *batch* of images in one 4-D array of shape `(N, C, H, W)`: N images, C channels (1 for
# gray, 3 for colour), H rows and W columns.
#
# `load_mnist` returns the MNIST handwritten digits in that layout: 60,000 training and 10,000
# test images of 28 × 28 pixels, as float32 in [0, 1] (0 is the black background, 1 full white
# ink), with their labels 0–9.

# %%
mnist = load_mnist()  # the copy bundled with the repository (downloaded once otherwise)
print(
    "x_train",
    mnist.x_train.shape,
    mnist.x_train.dtype,
    "  y_train",
    mnist.y_train.shape,
    mnist.y_train.dtype,
)
print("x_test ", mnist.x_test.shape, mnist.x_test.dtype, "  y_test ", mnist.y_test.shape)
print(
    "pixel range",
    mnist.x_train.min(),
    "to",
    mnist.x_train.max(),
    f"  mean {mnist.x_train.mean():.3f}",
)
print("first ten labels:", mnist.y_train[:10])

# %%
digit, label = mnist.x_train[0, 0], mnist.y_train[0]  # (28, 28): image 0, channel 0
top, left = 5, 12  # top-left corner of the 8 x 8 crop whose values we write out

fig, (ax_image, ax_crop) = plt.subplots(
    1, 2, figsize=(11, 4.8), gridspec_kw={"width_ratios": [1, 1.1]}
)
shown = ax_image.imshow(digit, cmap="gray", vmin=0, vmax=1)
fig.colorbar(shown, ax=ax_image, label="pixel value")
ax_image.add_patch(Rectangle((left - 0.5, top - 0.5), 8, 8, fill=False, edgecolor="tab:red", lw=2))
ax_image.set_title(f"Training image 0 (label {label})")
ax_image.set_xlabel("column")
ax_image.set_ylabel("row")
draw_grid(
    ax_crop,
    digit[top : top + 8, left : left + 8],
    "The pixels in the red square",
    cmap="gray",
    fmt="{:.2f}",
    vmin=0,
    vmax=1,
)
ax_crop.set_xticks(range(8), range(left, left + 8))
ax_crop.set_yticks(range(8), range(top, top + 8))
fig.tight_layout()
show(fig)

# %% [markdown]
# These 784 numbers are all the network ever sees of the digit. Everything below is arithmetic
# on arrays like this one.

# %% [markdown]
# **In the app.** `nanocnn app`, then *Look inside the network* below the page: its first
# column is your own drawing as the 28 × 28 array the network is given (docs/look_inside.md).

# %% [markdown]
# ## 2. Convolution by hand
#
# A convolutional layer slides a small grid of weights, the **kernel** (or **filter**), over the
# image. At each position it multiplies the kernel with the patch of image under it, element by
# element, and adds up the products. For a kernel $w$ of size $k_h \times k_w$:
#
# $$y[i, j] = \sum_{u=0}^{k_h-1} \sum_{v=0}^{k_w-1} w[u, v]\; x[i + u,\ j + v]$$
#
# The output $y$ is a new image, a **feature map**, that is bright wherever the patch looks like
# the kernel. (Strictly this is a *cross-correlation*; a mathematician's convolution flips the
# kernel first. Every deep-learning library calls it convolution anyway: the kernel is learned,
# so whether it is stored flipped makes no difference.)
#
# A tiny example: a 5 × 5 image with a bright block on the right, and a 3 × 3 vertical-edge
# filter that computes "right column minus left column", so it responds where the image gets
# brighter from left to right.

# %%
image = np.array([
    [0, 0, 0, 0, 0],
    [0, 0, 1, 1, 1],
    [0, 0, 1, 1, 1],
    [0, 0, 1, 1, 1],
    [0, 0, 0, 0, 0],
], dtype=np.float64)  # fmt: skip
kernel = np.array([
    [-1, 0, 1],
    [-1, 0, 1],
    [-1, 0, 1],
], dtype=np.float64)  # fmt: skip

# %% [markdown]
# The library keeps the formula as plain loops in `nanocnn.reference.conv2d`: one output pixel
# per iteration, the window times the kernel, summed. It works on batches of many-channel
# images, `(N, C, H, W)`, with many kernels (section 3 explains those); stride and padding come
# next. Here is its source:

# %%
display(Code(inspect.getsource(reference.conv2d), language="python"))

# %% [markdown]
# On our example, one image of one channel, so `image[None, None]` of shape `(1, 1, 5, 5)`, and
# one kernel of one channel, `(1, 1, 3, 3)`:

# %%
y = reference.conv2d(image[None, None], kernel[None, None])[0, 0]  # (1, 1, 3, 3) -> (3, 3)
print(y)

# %% [markdown]
# The first two columns of the output see the block's left edge (3 in the middle row, where the
# window holds three rows of edge; 2 above and below, where it holds two). The last column sees
# only flat brightness and gives 0.
#
# The library's fast `Conv2D` layer computes the same numbers. Its weight has shape
# `(C_out, C_in, kh, kw)`, here `(1, 1, 3, 3)`:

# %%
conv = nc.Conv2D(1, 1, kernel_size=3, bias=False, dtype=np.float64)
conv.params["weight"][0, 0] = kernel
y_library = conv.forward(image[None, None])  # (1, 1, 5, 5) -> (1, 1, 3, 3)
np.testing.assert_allclose(y_library[0, 0], y)
print("reference.conv2d and nc.Conv2D agree:", y_library.shape)

# %% [markdown]
# Here is the filter sliding: at each position (top), the sum of the products fills one output
# pixel (bottom).

# %%
positions = [(0, 0), (1, 1), (2, 2)]
fig, axes = plt.subplots(2, 4, figsize=(13, 6.4))
draw_grid(axes[0, 0], kernel, "The kernel w (3 × 3)", cmap="coolwarm", vmin=-2, vmax=2)
axes[1, 0].axis("off")
axes[1, 0].text(
    0.5,
    0.5,
    "y[i, j] = sum of\n(window × kernel)\n\nwindow = image[i : i+3,\n               j : j+3]",
    ha="center",
    va="center",
    fontsize=11,
    family="monospace",
)
order = [(i, j) for i in range(3) for j in range(3)]  # the order the loops visit outputs
for column, (i, j) in enumerate(positions, start=1):
    draw_grid(axes[0, column], image, f"Input, window at (i, j) = ({i}, {j})", vmin=0, vmax=2)
    axes[0, column].add_patch(
        Rectangle((j - 0.5, i - 0.5), 3, 3, fill=False, edgecolor="tab:red", lw=3)
    )
    done = np.full((3, 3), np.nan)  # outputs computed so far
    for k in range(order.index((i, j)) + 1):
        done[order[k]] = y[order[k]]
    draw_grid(
        axes[1, column],
        done,
        f"Output: y[{i}, {j}] = {y[i, j]:g}",
        cmap="coolwarm",
        vmin=-4,
        vmax=4,
    )
    axes[1, column].add_patch(
        Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="tab:red", lw=3)
    )
fig.suptitle("A 3 × 3 edge filter sliding over a 5 × 5 image (stride 1, no padding)")
fig.tight_layout()
show(fig)

# %% [markdown]
# ### Stride, padding and the output size
#
# - **Stride** $s$: the window moves $s$ pixels at a time instead of 1. Stride 2 roughly halves
#   the output.
# - **Padding** $p$: $p$ rings of zeros around the image, so that the window can also be
#   centred on the border pixels. With a 3 × 3 kernel, $p = 1$ and $s = 1$ keep the size
#   unchanged ("same" padding).
#
# The window fits $\lfloor (H + 2p - k) / s \rfloor$ times after its first position, so along each
# axis
#
# $$H_\text{out} = \left\lfloor \frac{H + 2p - k}{s} \right\rfloor + 1$$
#
# nanocnn computes this with `kernels.output_size(size, kernel, stride, pad_before, pad_after)`:

# %%
print(" H  k  s  p -> H_out")
for h, k, s, p in [
    (5, 3, 1, 0),
    (5, 3, 1, 1),
    (5, 3, 2, 1),
    (28, 3, 1, 1),
    (28, 5, 1, 0),
    (28, 2, 2, 0),
]:
    print(f"{h:2} {k:2} {s:2} {p:2} -> {kernels.output_size(h, k, s, p, p):2}")

# The loop version with stride 2 and padding 1, against the library:
strided = nc.Conv2D(1, 1, kernel_size=3, stride=2, padding=1, bias=False, dtype=np.float64)
strided.params["weight"][0, 0] = kernel
y_strided = reference.conv2d(image[None, None], kernel[None, None], stride=2, padding=1)[0, 0]
np.testing.assert_allclose(strided.forward(image[None, None])[0, 0], y_strided)
print("\nstride 2, padding 1: a", y_strided.shape, "output, loops and Conv2D agree\n", y_strided)

# %%
padded = np.pad(image, 1)
fig, (ax_in, ax_out) = plt.subplots(1, 2, figsize=(10, 4.6), gridspec_kw={"width_ratios": [7, 3]})
draw_grid(ax_in, padded, "Input with padding 1 (blue: the zeros added)", vmin=0, vmax=2)
for (i, j), _ in np.ndenumerate(padded):
    if i in (0, 6) or j in (0, 6):  # the ring of padding
        ax_in.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, color="tab:blue", alpha=0.15))
ax_in.add_patch(Rectangle((0.5, 0.5), 5, 5, fill=False, edgecolor="black", lw=2))
colours = ["tab:red", "tab:blue", "tab:green"]
for j, colour in enumerate(colours):  # the windows of output row 0, two pixels apart
    inset = 0.08 * (j + 1)
    ax_in.add_patch(
        Rectangle(
            (2 * j - 0.5 + inset, -0.5 + inset),
            3 - 2 * inset,
            3 - 2 * inset,
            fill=False,
            edgecolor=colour,
            lw=2.5,
        )
    )
draw_grid(ax_out, y_strided, "Output (3 × 3)", cmap="coolwarm", vmin=-4, vmax=4)
for j, colour in enumerate(colours):
    ax_out.add_patch(Rectangle((j - 0.5, -0.5), 1, 1, fill=False, edgecolor=colour, lw=2.5))
fig.suptitle("Stride 2: the windows of the first output row start two columns apart")
fig.tight_layout()
show(fig)

# %% [markdown]
# **In the app.** Click any pixel of a `Conv2D` column under *Look inside the network*: the
# panel shows this section's arithmetic for your drawing and the trained network's kernels,
# the input window of every input channel, the kernel, the products, their sum and the bias,
# with the zeros of the padding where the window hangs over the edge.

# %% [markdown]
# ## 3. From loops to one matrix product: im2col
#
# A real layer has many input channels and many filters. For an input $x$ of shape
# $(N, C, H, W)$ and a weight $w$ of shape $(O, C, k_h, k_w)$ (O filters, each spanning all C
# input channels), output channel $o$ sums over every input channel and adds a bias $b_o$:
#
# $$y[n, o, i, j] = b_o + \sum_{c=0}^{C-1} \sum_{u=0}^{k_h-1} \sum_{v=0}^{k_w-1}
#   w[o, c, u, v]\; x[n, c,\ s\,i + u,\ s\,j + v]$$
#
# Written as Python loops over $n, o, i, j$ this is hopelessly slow. The trick that makes a NumPy
# CNN fast is **im2col** ("image to columns"): copy every patch the kernel sees into one column
# of a matrix. Each output pixel of each filter is then the dot product of one row of weights
# with one column, so the whole layer is a single matrix product, which NumPy hands to an
# optimised BLAS library:
#
# $$\underbrace{Y}_{O \,\times\, N H_\text{out} W_\text{out}}
#   = \underbrace{W}_{O \,\times\, C k_h k_w}\;
#     \underbrace{\text{cols}}_{C k_h k_w \,\times\, N H_\text{out} W_\text{out}}$$
#
# On the tiny example, `kernels.im2col` gives a 9 × 9 matrix: one row per kernel offset
# $(u, v)$, one column per output position $(i, j)$. (The layers take and return NCHW batches,
# but inside, nanocnn's kernels work on *batch-last* arrays, `(C, H, W, N)`, where the images of
# a batch lie side by side in memory and every copy moves long contiguous runs;
# `kernels.to_chwn` gives that view of an NCHW batch.)

# %%
x_tiny = kernels.to_chwn(image[None, None])  # NCHW (1, 1, 5, 5) -> (C, H, W, N) (1, 5, 5, 1)
cols = kernels.im2col(x_tiny, kernel=(3, 3), stride=(1, 1), out_hw=(3, 3))  # (9, 9)
print("cols", cols.shape)
print(cols)

# Column 4 is output position (1, 1): the 3 x 3 window at (1, 1), flattened.
np.testing.assert_array_equal(cols[:, 4], image[1:4, 1:4].ravel())
# The convolution is one matrix product: (1, 9) @ (9, 9) -> (1, 9) -> (3, 3).
y_matmul = (kernel.reshape(1, -1) @ cols).reshape(3, 3)
np.testing.assert_allclose(y_matmul, y)
print("\nkernel.reshape(1, -1) @ cols, reshaped to 3 x 3:\n", y_matmul)

# %%
offsets = [f"({u}, {v})" for u in range(3) for v in range(3)]
fig, (ax_in, ax_cols) = plt.subplots(1, 2, figsize=(12, 5.2), gridspec_kw={"width_ratios": [5, 9]})
draw_grid(ax_in, image, "Input, window at (1, 1)", vmin=0, vmax=2)
ax_in.add_patch(Rectangle((0.5, 0.5), 3, 3, fill=False, edgecolor="tab:red", lw=3))
draw_grid(ax_cols, cols, "im2col matrix: column 4 is that window, flattened", vmin=0, vmax=2)
ax_cols.add_patch(Rectangle((3.5, -0.5), 1, 9, fill=False, edgecolor="tab:red", lw=3))
ax_cols.set_xticks(range(9), [f"({i}, {j})" for i in range(3) for j in range(3)], rotation=45)
ax_cols.set_yticks(range(9), offsets)
ax_cols.set_xlabel("output position (i, j)")
ax_cols.set_ylabel("kernel offset (u, v)")
fig.suptitle("im2col: every window of the input becomes one column")
fig.tight_layout()
show(fig)

# %% [markdown]
# Building the matrix needs no loop over output pixels either. The row for kernel offset
# $(u, v)$ holds the pixel that offset sees at every output position: that is one strided slice
# of the whole batch, `kernels.window(x, u, v, stride, out_hw)`. So `im2col` loops only over the
# $k_h k_w$ offsets (9 here), whatever the size of the images or the batch:

# %%
u, v = 1, 2
row = cols[u * 3 + v]  # the row of offset (1, 2)
view = kernels.window(x_tiny, u, v, stride=(1, 1), out_hw=(3, 3))  # (1, 3, 3, 1): a view
np.testing.assert_array_equal(row, view.ravel())
print(f"offset ({u}, {v}) sees\n{view[0, :, :, 0]}\nwhich is row {u * 3 + v} of cols: {row}")

# %% [markdown]
# ### How much faster?
#
# The same layer on a real batch: 32 MNIST digits, 8 filters of 3 × 3, padding 1. First with
# `reference.conv2d`, the loops over images, filters and output pixels shown in section 2; then
# with `Conv2D.forward`, which is im2col plus one matrix product.

# %%
batch = mnist.x_train[:32]  # (32, 1, 28, 28)
layer = nc.Conv2D(1, 8, kernel_size=3, padding=1, rng=0)
layer.params["bias"][:] = rng.standard_normal(8)

start = time.perf_counter()
y_loops = reference.conv2d(batch, layer.params["weight"], layer.params["bias"], padding=1)
loop_seconds = time.perf_counter() - start

fast_seconds = []
for _ in range(5):
    start = time.perf_counter()
    y_fast = layer.forward(batch)
    fast_seconds.append(time.perf_counter() - start)
fast_seconds = min(fast_seconds)

np.testing.assert_allclose(y_fast, y_loops, rtol=1e-4, atol=1e-5)
print(f"output {y_fast.shape}: {y_fast.size:,} dot products of length 9, same result")
print(f"loops:          {loop_seconds * 1e3:8.1f} ms")
print(
    f"im2col + GEMM:  {fast_seconds * 1e3:8.1f} ms   "
    f"({loop_seconds / fast_seconds:,.0f} times faster)"
)

# %% [markdown]
# The speed-up is two to three orders of magnitude, and it grows with the number of filters:
# the loops pay Python's overhead for every output pixel, the matrix product pays it once. This
# is the difference between training in minutes and training overnight.

# %% [markdown]
# **In the app.** The same panel gives both sums: the one from the formula, computed in
# float64, and the layer's own output, from im2col and one matrix product in float32; they
# agree to about seven digits.

# %% [markdown]
# ## 4. Pooling
#
# A pooling layer shrinks each feature map by summarising every $k \times k$ window in one
# number. **Max pooling** keeps the largest value, **average pooling** the mean:
#
# $$\text{max: } y[i, j] = \max_{u, v}\ x[s\,i + u,\ s\,j + v] \qquad
#   \text{average: } y[i, j] = \frac{1}{k^2} \sum_{u, v} x[s\,i + u,\ s\,j + v]$$
#
# It has no weights. With 2 × 2 windows and stride 2 it halves the height and the width, so the
# next convolution sees a region twice as large, and the output changes less when the digit
# moves by a pixel.
#
# **Backward.** Say $g = \partial L / \partial y[i, j]$ is the gradient arriving at one output
# (section 6 says where it comes from). It goes back to the inputs of that window:
#
# - max: all of $g$ goes to the input that won (the argmax); the others get 0, because nudging
#   them does not change the maximum;
# - average: every input of the window gets an equal share, $g / k^2$.

# %%
# the input (1, 1, 4, 4) and an upstream gradient (1, 1, 2, 2): batches of one 1-channel image
x_pool = np.array([
    [1, 3, 2, 0],
    [4, 2, 1, 5],
    [0, 1, 3, 2],
    [2, 6, 4, 1],
], dtype=np.float64)[None, None]  # fmt: skip
g = np.array([
    [1, 2],
    [3, 4],
], dtype=np.float64)[None, None]  # fmt: skip

max_pool, avg_pool = nc.MaxPool2D(2), nc.AvgPool2D(2)
y_max = max_pool.forward(x_pool, training=True)  # training=True: keep what backward needs
y_avg = avg_pool.forward(x_pool, training=True)
dx_max, dx_avg = max_pool.backward(g), avg_pool.backward(g)
print("max pool:\n", y_max[0, 0], "\naverage pool:\n", y_avg[0, 0])
print("max pool backward:\n", dx_max[0, 0], "\naverage pool backward:\n", dx_avg[0, 0])

# The library's loop versions (nanocnn.reference) agree, forward and backward:
np.testing.assert_allclose(reference.max_pool2d(x_pool, 2), y_max)
np.testing.assert_allclose(reference.avg_pool2d(x_pool, 2), y_avg)
np.testing.assert_allclose(reference.max_pool2d_backward(x_pool, g, 2), dx_max)
np.testing.assert_allclose(reference.avg_pool2d_backward(x_pool, g, 2), dx_avg)

# %%
fig, axes = plt.subplots(2, 3, figsize=(12, 7.6))
panels = [
    (x_pool, "Input x (4 × 4)", "Greys"),
    (y_max, "Max pool 2 × 2: y", "Greys"),
    (y_avg, "Average pool 2 × 2: y", "Greys"),
    (g, "Upstream gradient g = dL/dy", "Purples"),
    (dx_max, "Max pool backward: dL/dx", "Purples"),
    (dx_avg, "Average pool backward: dL/dx", "Purples"),
]
for ax, (values, title, cmap) in zip(axes.flat, panels, strict=True):
    draw_grid(ax, values[0, 0], title, cmap=cmap, vmin=0, vmax=8 if cmap == "Greys" else 5)
    if values.shape[-1] == 4:  # outline the four 2 x 2 windows
        ax.axhline(1.5, color="tab:red", lw=2)
        ax.axvline(1.5, color="tab:red", lw=2)
fig.suptitle(
    "Pooling forward (top) and backward (bottom): max routes the gradient to the "
    "winner, average spreads it"
)
fig.tight_layout()
show(fig)

# %% [markdown]
# **In the app.** Click a pixel of a `MaxPool2D` column: the window, with its winner marked,
# the one number of the window that the backward pass will send the gradient to.

# %% [markdown]
# ## 5. The forward pass of a whole network
#
# A CNN stacks these pieces. Blocks of *convolution → ReLU → max pooling* turn the image into
# more and more, smaller and smaller feature maps; `Flatten` lays the last ones out as one vector,
# and fully connected (`Dense`) layers turn that vector into 10 scores, one per digit.
#
# - **ReLU**, $\text{relu}(x) = \max(x, 0)$ element-wise: the non-linearity. Without one, a
#   stack of convolutions and dense layers would collapse into a single linear map.
# - **Dense**, $y = x W^\top + b$: every output is a weighted sum of every input.
# - **Softmax** turns the 10 scores (the *logits* $z$) into probabilities:
#   $p_k = e^{z_k} / \sum_j e^{z_j}$.
#
# `model.summary` runs one zero image through the model and lists each layer's output shape
# and number of parameters:


# %%
def build_model(seed):
    # A small CNN for 28 x 28 digits; the comments give each block's output shape.
    r = np.random.default_rng(seed)
    return nc.Sequential(
        nc.Conv2D(1, 8, 3, padding=1, rng=r), nc.ReLU(), nc.MaxPool2D(2),    # (8, 14, 14)
        nc.Conv2D(8, 16, 3, padding=1, rng=r), nc.ReLU(), nc.MaxPool2D(2),   # (16, 7, 7)
        nc.Flatten(),                                                        # (784,)
        nc.Dense(16 * 7 * 7, 64, rng=r), nc.ReLU(),                          # (64,)
        nc.Dense(64, 10, rng=r),                                             # (10,) logits
    )  # fmt: skip


model = build_model(seed=0)
print(model.summary((1, 28, 28)))

# %% [markdown]
# A convolution with $C_\text{in}$ input channels, $C_\text{out}$ filters of $k \times k$ has
# $C_\text{out}(C_\text{in} k^2 + 1)$ parameters: $8 \cdot (1 \cdot 9 + 1) = 80$ for the first
# layer, whatever the size of the image, since the same 80 numbers slide over every position.
# The first `Dense` layer, which connects every one of 784 inputs to every one of 64 outputs,
# holds most of the parameters.
#
# Here is a batch of 8 digits going through the layers one by one:

# %%
x = mnist.x_train[:8]
print(f"{x.shape!s:<16} input")
for index, layer in enumerate(model):
    x = layer.forward(x)
    print(f"{x.shape!s:<16} after {index}: {layer!r}")

probabilities = nc.Softmax().forward(x)
loss = nc.SoftmaxCrossEntropy().forward(x, mnist.y_train[:8])
print("\nprobabilities of the untrained network for digit 0 (a 5):\n", probabilities[0])
print(f"loss {loss:.3f}; answering 0.1 for every digit would give ln 10 = {np.log(10):.3f}")

# %% [markdown]
# The untrained network's probabilities are arbitrary, because its weights are random, and its
# loss (defined in section 6) is no better than a blind guess. To make it right we need to know,
# for every weight, which way to move it. That is the backward pass.

# %% [markdown]
# **In the app.** *Look inside the network* is this section's loop over the layers, drawn: one
# column per layer with its output maps (or units) for your input, their shapes, and the
# answer at the end. Click a `Dense` unit to see its largest contributions, input × weight.

# %% [markdown]
# ## 6. The backward pass, derived and checked
#
# Training minimises the **loss** $L$, a number that measures how wrong the network is. For
# that we need $\partial L / \partial w$ for every weight $w$. **Backpropagation** is the chain
# rule applied layer by layer, from the loss back to the input. Each layer's `backward(dout)`
# receives $\partial L / \partial y$ for its output $y$ (called `dout`, or $g$ below), stores
# $\partial L / \partial w$ for its parameters in `layer.grads`, and returns
# $\partial L / \partial x$ for its input, which is the `dout` of the layer before it.
#
# Each derivation below is followed by `nc.gradcheck`, the library's gradient checker. It
# checks a layer $f$ with a random upstream gradient $g$ by taking $L = \sum f(x) \odot g$ (so
# that $\partial L / \partial y = g$) and comparing what `backward(g)` returns with central
# differences, computed in float64 one entry at a time:
#
# $$\frac{\partial L}{\partial x_i} \approx
#   \frac{L(x + \epsilon e_i) - L(x - \epsilon e_i)}{2\epsilon}$$
#
# It reports the relative error $\lVert a - n \rVert / (\lVert a \rVert + \lVert n \rVert)$
# between analytic ($a$) and numeric ($n$) gradients, for the input and for each parameter:
# about $10^{-9}$ or less when the backward pass is right, near 1 when it is wrong.


# %%
def report(name, errors):
    # Print gradcheck's relative errors and insist that they are tiny.
    errors = errors if isinstance(errors, dict) else {"logits": errors}
    print(f"{name:<40}" + "   ".join(f"d{key}: {value:.1e}" for key, value in errors.items()))
    assert max(errors.values()) < 1e-6, f"{name}: the backward pass is wrong"


# %% [markdown]
# ### 6.1 Softmax and cross-entropy: why the gradient is $p - \text{onehot}$
#
# For one example with logits $z$ and true class $y$, the network's probabilities are
# $p = \text{softmax}(z)$ and the cross-entropy loss is minus the log-probability of the right
# answer:
#
# $$L = -\log p_y = -\log \frac{e^{z_y}}{\sum_j e^{z_j}} = -z_y + \log \sum_j e^{z_j}$$
#
# Differentiating with respect to each logit $z_k$: the first term gives $-1$ when $k = y$,
# and the derivative of the log-sum-exp is $e^{z_k} / \sum_j e^{z_j} = p_k$. So
#
# $$\frac{\partial L}{\partial z_k} = p_k - [k = y]
#   \qquad\text{that is}\qquad \frac{\partial L}{\partial z} = p - \text{onehot}(y)$$
#
# the predicted probabilities minus the answer. For a batch of $N$ examples the loss is the
# mean, so each row is divided by $N$. This is why libraries fuse softmax and cross-entropy into
# one loss (`nc.SoftmaxCrossEntropy`): the gradient is this simple, and the log-sum-exp can be
# computed without overflow.

# %%
logits = rng.standard_normal((4, 10))
labels = np.array([3, 0, 7, 7])
loss_fn = nc.SoftmaxCrossEntropy()
loss_fn.forward(logits, labels)

p = nc.Softmax().forward(logits)
onehot = np.eye(10)[labels]
np.testing.assert_allclose(loss_fn.backward(), (p - onehot) / len(labels))
print("loss_fn.backward() == (p - onehot) / N")
report("SoftmaxCrossEntropy", nc.gradcheck_loss(loss_fn, logits, labels))

# %% [markdown]
# ### 6.2 Dense
#
# $y = x W^\top + b$ with $x$ of shape $(N, \text{in})$, $W$ of shape $(\text{out}, \text{in})$,
# so $y_{nk} = \sum_i x_{ni} W_{ki} + b_k$. Each weight appears in the outputs as a simple
# product, so with $g = \partial L / \partial y$:
#
# $$\frac{\partial L}{\partial x_{ni}} = \sum_k g_{nk} W_{ki}, \qquad
#   \frac{\partial L}{\partial W_{ki}} = \sum_n g_{nk}\, x_{ni}, \qquad
#   \frac{\partial L}{\partial b_k} = \sum_n g_{nk}$$
#
# or, as matrices: $dx = g\,W$, $dW = g^\top x$, $db = \sum_n g_n$. Each gradient has the shape
# of the thing it is the gradient of, which is a good way to remember where the transposes go.

# %%
report("Dense(5, 3)", nc.gradcheck(nc.Dense(5, 3, rng=0), rng.standard_normal((4, 5))))

# %% [markdown]
# ### 6.3 ReLU
#
# $y = \max(x, 0)$ has derivative 1 where $x > 0$ and 0 where $x < 0$, so
#
# $$\frac{\partial L}{\partial x} = g \odot [x > 0]$$
#
# The gradient flows through the units that were active and stops at the others. (At exactly 0
# the derivative is undefined; 0 is used.)

# %%
report("ReLU", nc.gradcheck(nc.ReLU(), rng.standard_normal((4, 3, 5, 5))))

# %% [markdown]
# ### 6.4 Pooling
#
# Section 4 derived it: max pooling sends $g$ to the winner of each window, average pooling
# splits it into $k^2$ equal shares. When windows overlap (stride smaller than the kernel) an
# input can receive gradient from several outputs, and the shares add up.

# %%
x_check = rng.standard_normal((2, 3, 6, 6))
report("MaxPool2D(2)", nc.gradcheck(nc.MaxPool2D(2), x_check))
report("AvgPool2D(2)", nc.gradcheck(nc.AvgPool2D(2), x_check))
report("MaxPool2D(3, stride=2) (overlapping)", nc.gradcheck(nc.MaxPool2D(3, stride=2), x_check))

# %% [markdown]
# ### 6.5 Convolution: why the input gradient is a "full" convolution with the flipped kernel
#
# Take one channel, stride 1, no padding: $y[i, j] = b + \sum_{u,v} w[u, v]\, x[i + u, j + v]$,
# with $g = \partial L / \partial y$.
#
# **Weights.** $w[u, v]$ multiplies $x[i + u, j + v]$ in every output $y[i, j]$, so
#
# $$\frac{\partial L}{\partial w[u, v]} = \sum_{i, j} g[i, j]\; x[i + u,\ j + v]$$
#
# the same sliding sum as the forward pass, with $g$ in the place of the kernel: the input
# correlated with the output gradient. The bias gets $\sum_{i, j} g[i, j]$.
#
# **Input.** Pixel $x[p, q]$ is used by every output $y[i, j]$ whose window covers it, with
# weight $w[p - i, q - j]$:
#
# $$\frac{\partial L}{\partial x[p, q]} = \sum_{i, j} g[i, j]\; w[p - i,\ q - j]
#   = \sum_{u, v} g[p - u,\ q - v]\; w[u, v]$$
#
# (terms whose indices fall outside $g$ or $w$ are zero). The minus signs make the kernel run
# backwards over $g$: this is a true convolution. In the forward pass's own terms, it is a
# cross-correlation of $g$, padded with $k - 1$ zeros on every side, with the kernel **flipped**
# in both directions, $\tilde w[u, v] = w[k_h - 1 - u,\ k_w - 1 - v]$. The padding makes the
# result larger than $g$: $H_\text{out} + k - 1 = H$, the size of the input, hence the name
# **"full" convolution** (every position where kernel and $g$ overlap at all).
#
# Checked on the tiny example, with the loop convolution of section 2:

# %%
conv = nc.Conv2D(1, 1, kernel_size=3, dtype=np.float64)
conv.params["weight"][0, 0] = kernel
conv.forward(image[None, None], training=True)
g = rng.standard_normal((3, 3))  # an upstream gradient for the 3 x 3 output
dx = conv.backward(g[None, None])[0, 0]  # (5, 5)

# pad g by k - 1 = 2 and flip the kernel:
dx_full = reference.conv2d(np.pad(g, 2)[None, None], kernel[::-1, ::-1][None, None])[0, 0]
dw = reference.conv2d(image[None, None], g[None, None])[0, 0]  # the input correlated with g
np.testing.assert_allclose(dx, dx_full)
np.testing.assert_allclose(conv.grads["weight"][0, 0], dw)
np.testing.assert_allclose(conv.grads["bias"], [g.sum()])
print("dx = full convolution of g with the flipped kernel:\n", dx_full)
print("dw = input correlated with g:\n", dw)

# %% [markdown]
# With several channels, input channel $c$ receives gradient from every filter $o$:
# $dx[c] = \sum_o \text{full}(g[o],\ \text{flip}(w[o, c]))$. That is itself a convolution layer,
# from $O$ channels back to $C$, whose weight is $w$ with its first two axes swapped and its
# kernels flipped, and padding $k - 1$. So a `Conv2D` built that way reproduces the backward
# pass of another. (With stride $s > 1$ the same holds once $g$ is spread out with $s - 1$
# zeros between its entries.)
#
# nanocnn computes it whichever way copies less. For a stride-1 layer that keeps its channels
# and size (a ResNet's), it is exactly that convolution: one im2col of $g$, one product.
# Otherwise, with $W$ the weight as an $O \times C k_h k_w$ matrix, the column gradients are
# $W^\top g$, and `kernels.col2im` adds each column back onto the pixels it was copied from, the
# reverse of im2col. The gradient checker confirms it, with padding and with stride:

# %%
layer = nc.Conv2D(2, 3, kernel_size=3, rng=0, dtype=np.float64)
x_check = rng.standard_normal((2, 2, 6, 6))
g = rng.standard_normal((2, 3, 4, 4))
layer.forward(x_check, training=True)
dx = layer.backward(g)

full = nc.Conv2D(3, 2, kernel_size=3, padding=2, bias=False, dtype=np.float64)
full.params["weight"][...] = layer.params["weight"].transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]
np.testing.assert_allclose(full.forward(g), dx)
print("Conv2D.backward == a Conv2D with the swapped, flipped weight and padding k - 1\n")

report("Conv2D(2, 3, 3)", nc.gradcheck(nc.Conv2D(2, 3, 3, rng=0), x_check))
report("Conv2D(2, 3, 3, padding=1)", nc.gradcheck(nc.Conv2D(2, 3, 3, padding=1, rng=0), x_check))
report(
    "Conv2D(2, 3, 3, stride=2, padding=1)",
    nc.gradcheck(nc.Conv2D(2, 3, 3, stride=2, padding=1, rng=0), x_check),
)

# %% [markdown]
# ### 6.6 All together
#
# Chaining the layers' backward passes gives the gradient of the loss for every weight of the
# network. A last check on the whole model from section 5, in float64: back-propagate the loss
# of 4 digits, and compare the gradient of the first layer's 72 weights with central
# differences of the loss itself.

# %%
net = copy.deepcopy(model).astype(np.float64)  # a float64 copy; `model` is not touched
x_small, y_small = mnist.x_train[:4].astype(np.float64), mnist.y_train[:4]
loss_fn = nc.SoftmaxCrossEntropy()

loss_fn.forward(net.forward(x_small, training=True), y_small)
net.backward(loss_fn.backward())  # fills every layer's grads
analytic = net[0].grads["weight"].copy()  # (8, 1, 3, 3)

numeric = numerical_gradient(
    lambda: loss_fn.forward(net.forward(x_small), y_small), net[0].params["weight"]
)
report("whole network, first layer's weight", {"weight": relative_error(analytic, numeric)})

# %% [markdown]
# **In the app.** Choose *backward* and a class: each column then shows the gradient of that
# class's score with respect to the layer's output, and under each `Conv2D` the gradient with
# respect to its filters, from the layers' own `backward`, as in this section.

# %% [markdown]
# ## 7. Training
#
# Now the network can learn. **Gradient descent** moves every weight a small step against its
# gradient, $w \leftarrow w - \eta\, \partial L / \partial w$, over and over. Each step uses a
# **mini-batch** of 32 images, so it is cheap, and one pass over the training set is an
# **epoch**. The training loop in `nanocnn.training` does, for every batch:
#
# ```python
# pred = model.forward(xb, training=True)   # section 5
# loss = loss_fn.forward(pred, yb)
# model.backward(loss_fn.backward())        # section 6
# optimizer.step()                          # update every weight
# ```
#
# The optimizer is Adam, gradient descent with a step size adapted to each weight from running
# averages of its gradient; the learning rate $\eta$ starts at 0.003 and decays to 0 along half
# a cosine (`CosineLR`). To keep this notebook quick we train on 12,000 of the 60,000 training
# images for 3 epochs, and measure the accuracy on 2,000 others after each epoch (validation).
# The test set's 10,000 images are used once, at the end.

# %%
order = np.random.default_rng(0).permutation(len(mnist.x_train))  # a subset of its own
train, validate = order[:12_000], order[12_000:14_000]
print("training images per digit:", np.bincount(mnist.y_train[train]))

start = time.perf_counter()
history = fit(
    model,
    nc.SoftmaxCrossEntropy(),
    nc.Adam(model.parameters(), lr=3e-3),
    mnist.x_train[train],
    mnist.y_train[train],
    epochs=3,
    batch_size=32,
    validation_data=(mnist.x_train[validate], mnist.y_train[validate]),
    callbacks=[CosineLR()],
    seed=0,
    progress="lines",
)
print(f"trained in {time.perf_counter() - start:.0f} s")

# %%
logits = model.predict(mnist.x_test)  # (10000, 10), in batches, inference mode
probabilities = nc.Softmax().forward(logits)
predicted = probabilities.argmax(axis=1)
test_accuracy = metrics.accuracy(mnist.y_test, predicted)
print(f"test accuracy: {test_accuracy:.2%} of the 10,000 test digits")
assert test_accuracy >= 0.97

# %%
show_png(plots.plot_history(history.columns(), FIGURES / "history.png"))

# %% [markdown]
# The loss falls and the accuracy climbs with every epoch. Validation accuracy, measured on
# images the network never trained on, stays close to the training accuracy: the network has
# learned digits, not memorised these particular images. With all 60,000 images and a few more
# epochs the same code reaches about 99% (section 9).

# %% [markdown]
# **In the app.** A run trained with the `Snapshots` callback
# (`nanocnn.training.snapshots`) keeps the first layer's filters and their maps of one
# training image after every epoch; *Training, epoch by epoch* shows them with a slider, from
# the random start to the last epoch.

# %% [markdown]
# ## 8. Looking inside
#
# **Learned filters.** The 8 kernels of the first layer, each 3 × 3, in gray (each rescaled to
# its own range: black is its most negative weight, white its most positive). Most are dark on
# one side and light on the other: like the hand-made filter of section 2, they respond to
# edges, each at its own orientation.

# %%
show_png(
    plots.plot_filters(
        model[0].params["weight"],
        FIGURES / "filters.png",
        title="First-layer filters after training",
    )
)

# %% [markdown]
# **Feature maps.** What those filters make of one test digit: the output of the first block's
# ReLU (8 maps of 28 × 28), then of the second block's (16 maps of 14 × 14). Each map lights up
# where its filter found its pattern: edges on one side of a stroke, horizontal or slanted
# strokes. The second layer combines the first layer's maps into detectors of larger parts of
# the digit.

# %%
one = mnist.x_test[:1]  # (1, 1, 28, 28)
print(f"test digit 0: label {mnist.y_test[0]}, predicted {predicted[0]}")
first_block = one
for layer in model[:2]:  # Conv2D, ReLU
    first_block = layer.forward(first_block)
second_block = first_block
for layer in model[2:5]:  # MaxPool2D, Conv2D, ReLU
    second_block = layer.forward(second_block)
show_png(
    plots.plot_feature_maps(
        first_block[0], FIGURES / "maps1.png", title="Feature maps after the first Conv2D + ReLU"
    )
)
show_png(
    plots.plot_feature_maps(
        second_block[0], FIGURES / "maps2.png", title="Feature maps after the second Conv2D + ReLU"
    )
)

# %% [markdown]
# **The confusion matrix** counts, for every true digit (row), how often each digit was
# predicted (column). The diagonal holds the correct answers; the cells off it show which
# digits the network confuses.

# %%
cm = metrics.confusion_matrix(mnist.y_test, predicted, num_classes=10)
show_png(plots.plot_confusion_matrix(cm, FIGURES / "confusion.png"))

# %% [markdown]
# **Misclassified digits**, with the probability the network gave its wrong answer. Many are
# hard for a person too; others show what a larger network trained for longer would fix.

# %%
show_png(
    plots.plot_misclassified(
        mnist.x_test,
        mnist.y_test,
        predicted,
        FIGURES / "misclassified.png",
        max_images=16,
        probabilities=probabilities,
    )
)
shutil.rmtree(FIGURES)  # the PNGs are embedded in the notebook; the folder can go

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


# %% [markdown]
# **In the app.** Every layer's feature maps, not only the first two, for whatever you draw;
# and backward, the input column shows the gradient of the chosen score with respect to the
# pixels, whose size is the saliency map beside the answer.

# %% [markdown]
# ## 9. Skip connections: why deep networks train
#
# Backward through a plain stack of layers multiplies the gradient by every layer's Jacobian
# in turn, $\partial L / \partial x_1 = J_1^\top J_2^\top \cdots J_L^\top \, \partial L /
# \partial x_L$. When each factor shrinks it (a sigmoid's slope is at most 1/4), what
# reaches the first layers shrinks geometrically with the depth: they barely learn. A
# **residual block** (He et al., 2015) adds its input to its output, $y = x + f(x)$. At that
# fork the chain rule adds the two paths:
#
# $$\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} + J_f^\top
# \frac{\partial L}{\partial y}$$
#
# The first term hands the gradient to $x$ unchanged, whatever $f$ does to it, so a path of
# identities runs from the loss to the first layer. `nc.Residual(*layers, shortcut=None)` is
# that block: its backward sends `dout` down the body and the shortcut and adds the two.
#
# Measured: twenty sigmoid blocks, once stacked plainly and once with skips (the same
# weights), one backward pass on 64 training images, and the size of each convolution's weight
# gradient from the first layer to the last.


# %%
def deep_network(skips: bool, blocks: int = 20) -> nc.Sequential:
    """A 3x3 conv stem, ``blocks`` conv-sigmoid blocks (with or without a skip around each),
    global average pooling and a dense layer. The same seed gives the same weights."""
    rng = np.random.default_rng(0)
    layers: list[nc.Layer] = [nc.Conv2D(1, 8, 3, padding=1, rng=rng)]
    for _ in range(blocks):
        body = [nc.Conv2D(8, 8, 3, padding=1, rng=rng), nc.Sigmoid()]
        layers.append(nc.Residual(*body) if skips else nc.Sequential(*body))
    return nc.Sequential(*layers, nc.GlobalAvgPool2D(), nc.Dense(8, 10, rng=rng))


gradient_norms = {}
for skips in (False, True):
    network, loss = deep_network(skips), nc.SoftmaxCrossEntropy()
    loss.forward(network.forward(mnist.x_train[:64], training=True), mnist.y_train[:64])
    network.backward(loss.backward())
    gradient_norms[skips] = [
        np.linalg.norm(grad) for name, grad in network.grads.items() if grad.ndim == 4
    ]  # one per convolution, first to last

fig, ax = plt.subplots(figsize=(7, 3.2))
for skips, label in ((False, "plain"), (True, "with skip connections")):
    ax.semilogy(range(1, 22), gradient_norms[skips], "o-", label=label)
ax.set(xlabel="convolution (1 = first layer)", ylabel="weight gradient norm")
ax.legend()
plt.show()
plain, residual = gradient_norms[False], gradient_norms[True]
print(f"first layer / last layer: plain {plain[0] / plain[-1]:.1e}, "
      f"with skips {residual[0] / residual[-1]:.1e}")  # fmt: skip
assert plain[0] / plain[-1] < 1e-6 < 0.1 < residual[0] / residual[-1]

# %% [markdown]
# Without skips the first layer's gradient is about ten orders of magnitude smaller than the
# last one's; with them, every layer gets a gradient of the same size. The `resnet` preset
# (`nanocnn train --model resnet`) is a small network of such blocks with BatchNorm and ReLU,
# trained with the modern recipe; `docs/resnet.md` tells its story and its results.

# %% [markdown]
# **In the app.** Serve a ResNet (`nanocnn app --model runs/resnet/model.npz`) and go
# backward: a table gives the size of every convolution's filter gradient with the skip
# connections and without them (the same weights, each block's body alone), and a switch
# shows the columns of the network without its skips.

# %% [markdown]
# ## 10. Where to go next
#
# - **The command line.** `nanocnn train` trains the default CNN (two conv blocks of 32 and 64
#   filters, and dropout) on all 60,000 images to over 99% test accuracy; its run folder,
#   `runs/cnn/`, gets the model, the training history, the test metrics and the plots you saw
#   above. Then `nanocnn evaluate runs/cnn/model.npz` reports on the test set,
#   `nanocnn predict runs/cnn/model.npz my-digit.png` reads any photo or drawing of a digit,
#   and `nanocnn summary runs/cnn/model.npz` prints the table of section 5.
#   `--model lenet` trains LeNet-5, `--model mlp` a network without convolutions, to compare,
#   and `--model resnet` the residual network of section 9.
#   `nanocnn gradcheck` runs the checks of section 6 over every layer type and many shapes,
#   strides and paddings.
# - **The web app.** `nanocnn app` (with `pip install -e '.[app]'`) serves a page where you draw
#   a digit with the mouse and watch the network read it, with its 28 × 28 input and its
#   first-layer feature maps; *Look inside the network* below it applies every section of this
#   notebook to the network it serves, forward and backward (docs/look_inside.md).
# - **The age model.** The same layers on colour photos, trained as a regression that predicts
#   a person's age from a face (UTKFace): `nanocnn train --task age --data-dir data/UTKFace`.
#   `docs/age.md` says where to get the faces.
# - **The benchmark.** `python -m benchmarks.run` times nanocnn against PyTorch on the CPU and
#   against the loops of section 3.
# - **The code.** Everything this notebook used is a short read in `src/nanocnn/`: `kernels.py`
#   (im2col, col2im), `layers/` (each layer's forward and backward, with its math in the
#   docstring), `reference.py` (the loops), `losses.py`, `gradcheck.py` and `training/`.
