"""Tests for nanocnn.augment: shapes and dtypes, exact identities, geometry against references."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanocnn import augment
from nanocnn.augment import (
    Augmenter,
    affine,
    affine_matrices,
    random_affine,
    random_brightness_contrast,
    random_flip,
    random_shift,
    shift,
)

RandomStep = Callable[[np.ndarray, np.random.Generator], np.ndarray]

# Every random function and preset, with settings strong enough to change any image.
RANDOM_STEPS: dict[str, RandomStep] = {
    "flip": lambda x, rng: random_flip(x, rng, p=0.5),
    "shift": lambda x, rng: random_shift(x, rng, max_shift=2),
    "affine": lambda x, rng: random_affine(x, rng, max_rotation=20.0, max_shift=1.5),
    "brightness_contrast": lambda x, rng: random_brightness_contrast(x, rng, 0.2, 0.2),
    "digits": augment.digits(),
    "faces": augment.faces(),
    "natural": augment.natural(8),
}


def images(shape: tuple[int, ...], dtype: type = np.float32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape).astype(dtype)


def naive_affine(x: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Bilinear warp one output pixel at a time: the slow, obviously correct reference."""
    n, _, h, w = x.shape
    cy, cx = (h - 1) / 2, (w - 1) / 2
    out = np.zeros(x.shape)
    for k in range(n):
        for i in range(h):
            for j in range(w):
                r, c = matrices[k] @ [i - cy, j - cx, 1.0] + [cy, cx]
                r0, c0 = int(np.floor(r)), int(np.floor(c))
                for rr, cc in [(r0, c0), (r0, c0 + 1), (r0 + 1, c0), (r0 + 1, c0 + 1)]:
                    if 0 <= rr < h and 0 <= cc < w:
                        weight = (1 - abs(r - rr)) * (1 - abs(c - cc))
                        out[k, :, i, j] += weight * x[k, :, rr, cc]
    return out


def naive_shift(x: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    out = np.zeros_like(x)
    h, w = x.shape[2:]
    for k, (dy, dx) in enumerate(offsets):
        for i in range(h):
            for j in range(w):
                if 0 <= i - dy < h and 0 <= j - dx < w:
                    out[k, :, i, j] = x[k, :, i - dy, j - dx]
    return out


# --- shapes, dtypes, purity, determinism -------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 4),
    ch=st.sampled_from([1, 3]),
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    dtype=st.sampled_from([np.float32, np.float64]),
    step=st.sampled_from(sorted(RANDOM_STEPS)),
    seed=st.integers(0, 2**16),
)
def test_shape_and_dtype_preserved_input_untouched(
    n: int, ch: int, h: int, w: int, dtype: type, step: str, seed: int
) -> None:
    x = images((n, ch, h, w), dtype, seed)
    before = x.copy()
    y = RANDOM_STEPS[step](x, np.random.default_rng(seed))
    assert y.shape == x.shape
    assert y.dtype == x.dtype
    assert y is not x
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("step", sorted(RANDOM_STEPS))
def test_same_seed_same_output_other_seed_other_output(step: str) -> None:
    x = images((8, 3, 10, 12))
    first = RANDOM_STEPS[step](x, np.random.default_rng(1))
    again = RANDOM_STEPS[step](x, np.random.default_rng(1))
    other = RANDOM_STEPS[step](x, np.random.default_rng(2))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


# --- identities ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_identity_settings_return_input_exactly(dtype: type) -> None:
    x = images((5, 3, 9, 7), dtype)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(random_flip(x, rng, p=0.0), x)
    np.testing.assert_array_equal(random_shift(x, rng, max_shift=0), x)
    same = random_affine(x, rng, max_rotation=0.0, scale=(1.0, 1.0), max_shift=0.0)
    np.testing.assert_array_equal(same, x)
    identity = np.tile(np.eye(2, 3), (5, 1, 1))
    np.testing.assert_array_equal(affine(x, identity), x)
    np.testing.assert_array_equal(Augmenter([])(x, rng), x)


def test_flip_with_p_one_mirrors_every_image() -> None:
    x = images((4, 3, 5, 6))
    np.testing.assert_array_equal(random_flip(x, np.random.default_rng(0), p=1.0), x[..., ::-1])


def test_flip_mirrors_some_images_and_keeps_the_others() -> None:
    x = images((64, 1, 4, 5))
    y = random_flip(x, np.random.default_rng(0), p=0.5)
    mirrored = np.all(y == x[..., ::-1], axis=(1, 2, 3))
    kept = np.all(y == x, axis=(1, 2, 3))
    assert np.all(mirrored | kept)
    assert 10 < mirrored.sum() < 54


# --- shift --------------------------------------------------------------------------------------


def test_shift_moves_a_bright_pixel_by_the_offset() -> None:
    x = np.zeros((2, 1, 8, 8), np.float32)
    x[:, 0, 3, 4] = 1.0
    y = shift(x, np.array([[2, -1], [-3, 3]]))
    assert y[0, 0, 5, 3] == 1.0
    assert y[1, 0, 0, 7] == 1.0
    assert y.sum() == 2.0


def test_shift_drops_what_leaves_the_image_and_fills_zeros() -> None:
    x = np.ones((1, 1, 4, 4))
    y = shift(x, np.array([[1, -2]]))
    expected = np.zeros((4, 4))
    expected[1:, :2] = 1.0
    np.testing.assert_array_equal(y[0, 0], expected)


def test_shift_matches_naive_reference() -> None:
    x = images((6, 3, 5, 7))
    offsets = np.random.default_rng(0).integers(-6, 7, size=(6, 2))
    np.testing.assert_array_equal(shift(x, offsets), naive_shift(x, offsets))


def test_random_shift_stays_within_max_shift_and_keeps_mass() -> None:
    x = np.zeros((50, 1, 11, 11), np.float32)
    x[:, 0, 5, 5] = 1.0
    y = random_shift(x, np.random.default_rng(0), max_shift=3)
    _, _, rows, cols = np.nonzero(y)
    assert len(rows) == 50  # one pixel per image, never pushed out
    assert np.abs(rows - 5).max() == 3
    assert np.abs(cols - 5).max() == 3
    np.testing.assert_array_equal(y.sum(axis=(1, 2, 3)), 1.0)


def test_shift_rejects_bad_offsets() -> None:
    x = images((2, 1, 4, 4))
    with pytest.raises(ValueError, match="offsets"):
        shift(x, np.zeros((3, 2), int))
    with pytest.raises(ValueError, match="offsets"):
        shift(x, np.zeros((2, 2)))


# --- affine -------------------------------------------------------------------------------------


def test_affine_matches_naive_reference() -> None:
    rng = np.random.default_rng(0)
    x = images((4, 2, 7, 9))
    matrices = affine_matrices(
        rng.uniform(-180, 180, 4), rng.uniform(0.5, 2.0, 4), rng.uniform(-3, 3, (4, 2))
    )
    np.testing.assert_allclose(affine(x, matrices), naive_affine(x, matrices), atol=1e-6)


@pytest.mark.parametrize(("angle", "turns"), [(90.0, 1), (-90.0, -1), (180.0, 2)])
def test_rotation_by_right_angles_equals_rot90(angle: float, turns: int) -> None:
    x = images((3, 2, 8, 8))  # square and asymmetric: any wrong direction shows
    y = affine(x, affine_matrices([angle] * 3, [1.0] * 3))
    np.testing.assert_allclose(y, np.rot90(x, turns, axes=(2, 3)), atol=1e-6)


def test_half_turn_of_a_non_square_image() -> None:
    x = images((2, 3, 5, 8))
    y = affine(x, affine_matrices([180.0, -180.0], [1.0, 1.0]))
    np.testing.assert_allclose(y, x[..., ::-1, ::-1], atol=1e-6)


def test_integer_affine_shift_equals_shift() -> None:
    x = images((3, 1, 6, 9))
    offsets = np.array([[1, 2], [-2, 0], [0, -3]])
    y = affine(x, affine_matrices([0.0] * 3, [1.0] * 3, offsets))
    np.testing.assert_array_equal(y, shift(x, offsets))


def test_scale_magnifies_about_the_centre() -> None:
    x = np.zeros((1, 1, 9, 9))
    x[0, 0, 6, 4] = 1.0  # two rows below the centre (4, 4)
    y = affine(x, affine_matrices([0.0], [2.0]))
    assert y[0, 0, 8, 4] == 1.0  # four rows below
    assert y[0, 0, 7, 4] == 0.5  # halfway between the pixel and its empty neighbour


def test_mild_rotation_keeps_the_mass_of_a_centred_blob() -> None:
    rows, cols = np.mgrid[:28, :28] - 13.5
    blob = np.exp(-(rows**2 + (cols / 2) ** 2) / 20)[None, None]  # elongated, well inside
    y = random_affine(blob, np.random.default_rng(0), max_rotation=15.0, scale=(1.0, 1.0))
    assert not np.allclose(y, blob, atol=1e-3)
    np.testing.assert_allclose(y.sum(), blob.sum(), rtol=0.01)


def test_affine_treats_each_image_on_its_own() -> None:
    x = images((5, 3, 6, 7))
    rng = np.random.default_rng(0)
    matrices = affine_matrices(rng.uniform(-30, 30, 5), rng.uniform(0.8, 1.2, 5))
    y = affine(x, matrices)
    for k in range(5):
        np.testing.assert_array_equal(y[k : k + 1], affine(x[k : k + 1], matrices[k : k + 1]))


def test_affine_rejects_wrong_matrix_shape() -> None:
    with pytest.raises(ValueError, match="matrices"):
        affine(images((2, 1, 4, 4)), np.zeros((2, 3, 3)))


def test_rejects_non_batches() -> None:
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        random_flip(images((3, 4, 4)), np.random.default_rng(0))


# --- brightness and contrast --------------------------------------------------------------------


def test_brightness_contrast_keeps_unit_range() -> None:
    x = images((32, 3, 8, 8))
    y = random_brightness_contrast(x, np.random.default_rng(0), brightness=0.5, contrast=0.5)
    assert y.min() >= 0.0
    assert y.max() <= 1.0
    assert not np.allclose(y, x)


def test_brightness_contrast_unclipped_follows_the_formula() -> None:
    x = np.random.default_rng(0).standard_normal((32, 1, 6, 6))  # outside [0, 1]: no clipping
    y = random_brightness_contrast(x, np.random.default_rng(1), brightness=0.3, contrast=0.2)
    mean_change = y.mean(axis=(1, 2, 3)) - x.mean(axis=(1, 2, 3))
    gain = y.std(axis=(1, 2, 3)) / x.std(axis=(1, 2, 3))
    assert np.all(np.abs(mean_change) <= 0.3)
    assert np.all((gain >= 0.8) & (gain <= 1.2))
    assert y.min() < -1.0


def test_brightness_contrast_clip_overrides_the_range_test() -> None:
    unit = images((32, 3, 8, 8))
    loose = random_brightness_contrast(unit, np.random.default_rng(0), 0.5, 0.5, clip=False)
    assert loose.min() < 0.0 or loose.max() > 1.0
    auto = random_brightness_contrast(unit, np.random.default_rng(0), 0.5, 0.5)
    np.testing.assert_array_equal(auto, np.clip(loose, 0, 1))
    wide = 3 * unit - 1
    clipped = random_brightness_contrast(wide, np.random.default_rng(0), 0.5, 0.5, clip=True)
    assert clipped.min() >= 0.0
    assert clipped.max() <= 1.0


# --- Augmenter ----------------------------------------------------------------------------------


def test_augmenter_applies_steps_in_order() -> None:
    x = images((6, 3, 8, 8))
    chain = Augmenter([partial(random_flip, p=0.5), partial(random_shift, max_shift=2)])
    rng = np.random.default_rng(3)
    by_hand = random_shift(random_flip(x, rng, p=0.5), rng, max_shift=2)
    np.testing.assert_array_equal(chain(x, np.random.default_rng(3)), by_hand)


def test_digits_preset_never_flips() -> None:
    assert all(step.func is not random_flip for step in augment.digits().steps)
    assert any(step.func is random_flip for step in augment.faces().steps)


@pytest.mark.parametrize(
    ("preset", "shape"), [("digits", (4, 1, 28, 28)), ("faces", (4, 3, 20, 16))]
)
def test_presets_keep_values_in_unit_range(preset: str, shape: tuple[int, ...]) -> None:
    x = images(shape)
    y = RANDOM_STEPS[preset](x, np.random.default_rng(0))
    assert y.min() >= 0.0
    assert y.max() <= 1.0 + 1e-6


# --- natural images -----------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "max_shift"), [(32, 4), (64, 8), (8, 1), (3, 1)])
def test_natural_shifts_by_an_eighth_of_the_size(size: int, max_shift: int) -> None:
    steps = {step.func: step.keywords for step in augment.natural(size).steps}
    assert steps[random_shift] == {"max_shift": max_shift}
    assert steps[random_flip] == {"p": 0.5}
    assert steps[random_brightness_contrast]["clip"] is False


def test_natural_is_shift_flip_then_unclipped_jitter() -> None:
    x = np.random.default_rng(0).standard_normal((16, 3, 32, 32)).astype(np.float32)
    rng = np.random.default_rng(5)
    by_hand = random_shift(x, rng, max_shift=4)
    by_hand = random_flip(by_hand, rng, p=0.5)
    by_hand = random_brightness_contrast(by_hand, rng, 0.1, 0.1, clip=False)
    np.testing.assert_array_equal(augment.natural(32)(x, np.random.default_rng(5)), by_hand)


def test_natural_never_clips_inputs_in_unit_range() -> None:
    x = images((64, 3, 16, 16))  # in [0, 1] by chance: must stay unclipped all the same
    y = augment.natural(16)(x, np.random.default_rng(0))
    assert y.max() > 1.0
    assert y.min() < 0.0


def test_natural_pads_with_zero_the_mean_of_standardised_images() -> None:
    x = np.full((32, 1, 16, 16), 5.0)
    shift_step = augment.natural(16).steps[0]
    assert shift_step.func is random_shift
    y = Augmenter([shift_step])(x, np.random.default_rng(0))
    assert set(np.unique(y)) == {0.0, 5.0}  # shifted in: zeros; never anything else


def test_natural_rejects_an_empty_size() -> None:
    with pytest.raises(ValueError, match="size must be at least 1"):
        augment.natural(0)
