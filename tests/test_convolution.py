"""Tests of 2-D convolution, kernels, image helpers and the convolution experiment."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from _figure_checks import assert_nothing_cut_off
from overfitlab.experiments.base import ConfigError
from overfitlab.experiments.convolution import EXPERIMENT, ConvolutionConfig, run
from overfitlab.imaging import (
    box_kernel,
    convolve2d,
    gaussian_kernel,
    laplacian_kernel,
    load_image,
    rgb2gray,
    sobel_kernel,
    sobel_magnitude,
)
from overfitlab.imaging.images import downscale, high_frequency_fraction

ALL_MODES = ["reflect", "mirror", "nearest", "wrap", "constant",
             "grid-mirror", "grid-wrap", "grid-constant"]
values = st.floats(-100, 100, allow_nan=False, allow_infinity=False)


@settings(max_examples=400, deadline=None)
@given(
    image=arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(1, 12)), elements=values),
    kernel=arrays(np.float64, st.tuples(st.integers(1, 7), st.integers(1, 7)), elements=values),
    mode=st.sampled_from(ALL_MODES),
    cval=values,
)
def test_convolve2d_matches_scipy(image, kernel, mode, cval):
    # Odd and even kernels, kernels larger than the image, every boundary mode and cval.
    # Values <= 100 and <= 49 taps: sums below 5e5, float64 rounding ~1e-10 << 1e-6.
    expected = ndi.convolve(image, kernel, mode=mode, cval=cval)
    np.testing.assert_allclose(convolve2d(image, kernel, mode=mode, cval=cval), expected,
                               rtol=0, atol=1e-6)


@pytest.mark.parametrize("shape", [(3, 3), (2, 2), (4, 3), (1, 4)])
def test_impulse_response_is_the_kernel_centred_at_k_over_2(shape):
    # Closed form, independent of SciPy: an impulse at p copies w[m, n] to p + (m, n) - k//2.
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=shape)
    image = np.zeros((9, 9))
    image[4, 4] = 1.0
    out = convolve2d(image, kernel, mode="constant")
    expected = np.zeros((9, 9))
    top, left = 4 - shape[0] // 2, 4 - shape[1] // 2
    expected[top:top + shape[0], left:left + shape[1]] = kernel
    np.testing.assert_allclose(out, expected, atol=1e-15)


def test_convolve2d_rejects_bad_input():
    with pytest.raises(ValueError, match="boundary mode"):
        convolve2d(np.ones((3, 3)), np.ones((2, 2)), mode="periodic")
    with pytest.raises(ValueError, match="2-D"):
        convolve2d(np.ones((3, 3, 3)), np.ones((2, 2)))


@pytest.mark.parametrize("size", [1, 2, 3, 7, 15])
def test_box_kernel_shapes_and_sums(size):
    ones = box_kernel(size, normalize=False)
    assert ones.shape == (size, size) and np.all(ones == 1.0) and ones.sum() == size**2
    assert box_kernel(size).shape == (size, size)
    assert box_kernel(size).sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.3])
def test_gaussian_kernel_matches_scipy_gaussian_filter(sigma):
    kernel = gaussian_kernel(sigma)
    radius = int(4.0 * sigma + 0.5)
    assert kernel.shape == (2 * radius + 1, 2 * radius + 1)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(kernel, kernel.T)
    image = np.random.default_rng(1).random((20, 17))
    np.testing.assert_allclose(convolve2d(image, kernel), ndi.gaussian_filter(image, sigma),
                               atol=1e-12)


def test_laplacian_kernels():
    for n in (4, 8):
        kernel = laplacian_kernel(n)
        assert kernel.shape == (3, 3) and kernel.sum() == 0.0 and kernel[1, 1] == -n
    # Second differences are exact on a quadratic: Laplacian of x^2 + y^2 is 4 (4-neighbour)
    # and 12 with the 8-neighbour stencil (two diagonal steps of length sqrt(2) add 2 * 4).
    y, x = np.mgrid[0:10, 0:12].astype(float)
    f = x**2 + y**2
    inner = (slice(1, -1), slice(1, -1))
    np.testing.assert_allclose(convolve2d(f, laplacian_kernel(4))[inner], 4.0)
    np.testing.assert_allclose(convolve2d(f, laplacian_kernel(8))[inner], 12.0)
    image = np.random.default_rng(2).random((11, 13))
    np.testing.assert_allclose(convolve2d(image, laplacian_kernel(4)), ndi.laplace(image),
                               atol=1e-12)
    with pytest.raises(ValueError):
        laplacian_kernel(6)


def test_sobel_kernels_match_scipy_and_a_ramp():
    image = np.random.default_rng(3).random((12, 10))
    for axis in (0, 1):
        kernel = sobel_kernel(axis)
        assert kernel.shape == (3, 3) and kernel.sum() == 0.0
        np.testing.assert_allclose(convolve2d(image, kernel), ndi.sobel(image, axis=axis),
                                   atol=1e-12)
    # On the ramp f = 0.5 * column, the x-derivative is (0.5 * 2) * (1 + 2 + 1) = 4 inside.
    ramp = 0.5 * np.mgrid[0:8, 0:9][1].astype(float)
    np.testing.assert_allclose(sobel_magnitude(ramp)[:, 1:-1], 4.0)


def test_rgb2gray_weights():
    for channel, weight in enumerate((0.2989, 0.5870, 0.1140)):
        pixel = np.zeros((2, 3, 4))
        pixel[..., channel] = 1.0
        np.testing.assert_allclose(rgb2gray(pixel), weight)
    rgba = np.random.default_rng(4).random((5, 6, 4))
    expected = 0.2989 * rgba[..., 0] + 0.5870 * rgba[..., 1] + 0.1140 * rgba[..., 2]
    np.testing.assert_allclose(rgb2gray(rgba), expected, atol=1e-15)  # alpha ignored
    np.testing.assert_array_equal(rgb2gray(rgba[..., 0]), rgba[..., 0])  # gray passes


def test_downscale_is_a_block_mean():
    image = np.arange(7 * 10, dtype=float).reshape(7, 10)
    small = downscale(image, 4)  # factor ceil(10 / 4) = 3 -> 2 x 3 blocks, rest cropped
    assert small.shape == (2, 3)
    assert small[1, 2] == pytest.approx(image[3:6, 6:9].mean())
    assert downscale(image, 0) is not None and downscale(image, 0).shape == image.shape


def test_high_frequency_fraction_of_white_noise_is_the_outer_area():
    # A flat spectrum puts energy in proportion to area: the disc r <= c covers pi c^2 of the
    # unit frequency square, so the share above c is 1 - pi c^2 (the Hann window keeps a flat
    # spectrum flat in expectation). 256^2 samples: standard error well below 0.01.
    noise = np.random.default_rng(5).normal(size=(256, 256))
    assert high_frequency_fraction(noise, 0.25) == pytest.approx(1 - np.pi * 0.25**2, abs=0.01)
    wave = np.sin(2 * np.pi * 0.02 * np.arange(128))[None, :] * np.ones((128, 1))
    assert high_frequency_fraction(wave, 0.25) < 1e-6


def test_load_image_reads_a_png_in_unit_range(tmp_path):
    from PIL import Image

    pixels = np.random.default_rng(6).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    path = tmp_path / "tiny.png"
    Image.fromarray(pixels).save(path)
    image = load_image(path)
    assert image.shape == (20, 30, 3)
    np.testing.assert_allclose(image, pixels / 255.0, atol=1e-6)


def test_bad_image_path_gives_config_error(tmp_path):
    missing = tmp_path / "nope.png"
    with pytest.raises(ConfigError, match="nope.png"):
        ConvolutionConfig.preset("quick", image=str(missing))
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(ConfigError, match="notes.txt"):
        ConvolutionConfig.preset("quick", image=str(text))
    with pytest.raises(ConfigError, match="mode"):
        ConvolutionConfig.preset("quick", mode="periodic")
    with pytest.raises(ConfigError, match="curve_sizes"):
        ConvolutionConfig.preset("quick", curve_sizes=(3,))


def test_quick_run_answers():
    result = run(ConvolutionConfig.preset("quick"))
    assert EXPERIMENT.name == "convolution" and EXPERIMENT.order == 80
    m = result.metrics
    assert all(np.isfinite(v) for v in m.values())
    # A 3x3 kernel of ones multiplies flat regions by 9; its normalized twin by 1.
    assert result.answer("ones_kernel_gain").value == pytest.approx(9.0, abs=0.15)
    assert m["box_gain_flat"] == pytest.approx(1.0, abs=0.02)
    # Bigger boxes leave strictly less high-frequency energy.
    curve = result.arrays["hf_fraction"]
    assert np.all(np.diff(curve) < 0) and m["hf_monotone"] == 1.0
    assert result.answer("bigger_kernel_effect").value < 0.01 * m["hf_fraction_gray"]
    # The Laplacian's energy sits on Sobel edges, far above their share of pixels.
    share = result.answer("laplacian_highlights").value
    assert share > 3 * ConvolutionConfig.edge_fraction
    assert m["laplacian_hf_fraction"] > 5 * m["hf_fraction_gray"]
    assert set(result.figures) == {"filters.png", "blur_spectrum.png",
                                   "laplacian_concentration.png"}
    assert_nothing_cut_off(result.figures)
    assert max(result.arrays["gray"].shape) <= 160


def test_run_on_a_user_image(tmp_path):
    from PIL import Image

    y, x = np.mgrid[0:48, 0:64]
    pixels = np.where((x // 8 + y // 8) % 2 == 0, 230, 20).astype(np.uint8)  # checkerboard
    path = tmp_path / "board.png"
    Image.fromarray(pixels).save(path)
    result = run(ConvolutionConfig.preset("quick", image=str(path)))
    assert result.arrays["gray"].shape == (48, 64)
    assert result.answer("ones_kernel_gain").value == pytest.approx(9.0, abs=1e-9)
