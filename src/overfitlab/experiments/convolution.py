"""Convolution as image filtering: box blur, the gain of a kernel of ones, Laplacian and Sobel.

A photograph (matplotlib's sample portrait of Grace Hopper unless ``image`` names another file)
is turned gray and convolved with our own :func:`overfitlab.imaging.convolve2d`. Three course
questions are answered with measurements:

* ``ones_kernel_gain``: on the flattest pixels, output / input of the 3 x 3 kernel of ones;
* ``bigger_kernel_effect``: share of spectral energy above a radial cutoff against box size;
* ``laplacian_highlights``: share of the Laplacian's energy on the strongest Sobel edges.

Everything is deterministic: ``seed`` and ``seeds`` are kept for the common interface only.
"""
from __future__ import annotations

import os
import time

import numpy as np

from overfitlab.experiments.configs.convolution import ConvolutionConfig
from overfitlab.experiments.base import (
    Answer,
    ConfigError,
    Experiment,
    Progress,
    Result,
    no_progress,
)
from overfitlab.imaging.convolve import convolve2d, sobel_magnitude
from overfitlab.imaging.images import (
    ImageReadError,
    downscale,
    high_frequency_fraction,
    load_image,
    rgb2gray,
    sample_image_path,
)
from overfitlab.imaging.kernels import box_kernel, laplacian_kernel

_DARK = 0.05  # flat pixels darker than this share of the maximum are skipped (ratio too noisy)
_CURVE_POINTS = 201  # samples of the Laplacian concentration curve kept in arrays.npz


def _blur_title(hf: np.ndarray, hf_gray: float) -> str:
    """What the measured high-frequency shares do as the box grows."""
    kept = float(hf[-1] / hf_gray) if hf_gray > 0 else float("nan")
    if not np.isfinite(kept):
        return "A flat image: nothing to blur"
    if kept < 0.01:
        return "Bigger kernel, stronger blur: high frequencies all but vanish"
    if hf[-1] < hf[0]:
        return f"Bigger kernel, stronger blur: {100 * kept:.0f} % of the high frequencies remain"
    return "A bigger kernel does not remove the high frequencies here"


def _load(config: ConvolutionConfig) -> tuple[np.ndarray, str]:
    """The (downscaled) image in [0, 1] and the path it came from."""
    path = config.image if config.image is not None else str(sample_image_path())
    try:
        image = load_image(path)
    except ImageReadError as exc:
        raise ConfigError(f"image: {exc}; pass --set image=PATH to a PNG or JPEG file") from None
    image = downscale(image, config.max_side)
    if min(image.shape[:2]) < 3:
        raise ConfigError(f"image: {path!r} is {image.shape[1]}x{image.shape[0]} pixels; "
                          "use an image of at least 3x3 (or a larger max_side)")
    return image, path


def measure_ones_gain(gray: np.ndarray, ones: np.ndarray, mode: str,
                      flat_fraction: float) -> dict[str, float]:
    """How much the 3 x 3 kernel of ones (output ``ones``) and the 3 x 3 mean scale flat regions.

    Flat pixels are the ``flat_fraction`` of non-dark pixels with the smallest local standard
    deviation ``sqrt(box(f^2) - box(f)^2)`` over their 3 x 3 neighbourhood; on them the gain is
    the median of output / input, which tends to the kernel sum as the region becomes flat.
    """
    mean = convolve2d(gray, box_kernel(3), mode=mode)
    local_std = np.sqrt(np.maximum(convolve2d(gray**2, box_kernel(3), mode=mode) - mean**2, 0.0))
    bright = gray > _DARK * gray.max()
    if not bright.any():
        nan = float("nan")
        return {"ones_gain_flat": nan, "box_gain_flat": nan, "flat_pixels": 0.0,
                "flat_local_std_max": nan, "ones_gain_mean": nan, "ones_clipped_fraction": 0.0}
    threshold = np.quantile(local_std[bright], flat_fraction)
    flat = bright & (local_std <= threshold)
    return {
        "ones_gain_flat": float(np.median(ones[flat] / gray[flat])),
        "box_gain_flat": float(np.median(mean[flat] / gray[flat])),
        "flat_pixels": float(flat.sum()),
        "flat_local_std_max": float(threshold),
        "ones_gain_mean": float(ones.mean() / gray.mean()),
        "ones_clipped_fraction": float(np.mean(ones > 1.0)),
    }


def laplacian_concentration(laplacian: np.ndarray,
                            sobel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative share of Laplacian energy ``L^2``, pixels sorted by decreasing Sobel magnitude.

    Returns (share of pixels, share of energy), both starting at 0 and ending at 1.
    """
    order = np.argsort(sobel.ravel())[::-1]
    energy = laplacian.ravel()[order] ** 2
    cumulative = np.concatenate([[0.0], np.cumsum(energy)])
    total = cumulative[-1]
    pixels = np.arange(cumulative.size) / energy.size
    return pixels, cumulative / total if total > 0 else cumulative


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two images (NaN when either is constant)."""
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def run(config: ConvolutionConfig, progress: Progress = no_progress) -> Result:
    """Filter the image, measure gain, blur spectrum and Laplacian concentration, draw figures."""
    from overfitlab.plots.convolution import (
        Panel,
        blur_spectrum_figure,
        concentration_figure,
        gallery_figure,
    )

    start = time.perf_counter()
    progress(0.0, "loading image")
    image, path = _load(config)
    gray = rgb2gray(image)
    height, width = gray.shape
    mode = config.mode

    progress(0.1, "kernel of ones")
    ones = convolve2d(gray, box_kernel(3, normalize=False), mode=mode)
    gain = measure_ones_gain(gray, ones, mode, config.flat_fraction)

    progress(0.25, "box blur spectrum")
    sizes = sorted(set(config.curve_sizes))
    blurred = {k: convolve2d(gray, box_kernel(k), mode=mode)
               for k in sorted(set(sizes) | set(config.blur_sizes))}
    hf_gray = high_frequency_fraction(gray, config.cutoff)
    hf_by_size = {k: high_frequency_fraction(b, config.cutoff) for k, b in blurred.items()}
    hf = np.array([hf_by_size[k] for k in sizes])
    monotone = bool(np.all(np.diff(hf) < 0))

    progress(0.6, "Laplacian and Sobel")
    laplacian = convolve2d(gray, laplacian_kernel(4), mode=mode)
    laplacian8 = convolve2d(gray, laplacian_kernel(8), mode=mode)
    sobel = sobel_magnitude(gray, mode=mode)
    pixels, energy = laplacian_concentration(laplacian, sobel)
    n_edges = max(1, int(round(config.edge_fraction * gray.size)))
    edge_share = float(energy[n_edges])
    edge_share8 = float(laplacian_concentration(laplacian8, sobel)[1][n_edges])
    hf_laplacian = high_frequency_fraction(laplacian, config.cutoff)
    correlation = _correlation(np.abs(laplacian), sobel)

    progress(0.75, "figures")
    lap_scale = float(np.quantile(np.abs(laplacian), 0.99)) or 1.0
    sobel_scale = float(np.quantile(sobel, 0.99)) or 1.0
    panels = [
        Panel(f"original ({width}x{height})", image),
        Panel("gray (0.2989 R + 0.5870 G + 0.1140 B)", gray),
        Panel(f"3x3 ones (gain {gain['ones_gain_flat']:.2f}, "
              f"{gain['ones_clipped_fraction']:.0%} > 1 clipped)", np.clip(ones, 0, 1)),
        *[Panel(f"box blur {k}x{k} (normalized)", blurred[k]) for k in config.blur_sizes],
        Panel("|Laplacian| (4-neighbour)", np.abs(laplacian),
              {"cmap": "gray_r", "vmin": 0, "vmax": lap_scale}),
        Panel("Sobel magnitude", sobel, {"cmap": "gray_r", "vmin": 0, "vmax": sobel_scale}),
    ]
    figures = {
        "filters.png": gallery_figure(panels),
        "blur_spectrum.png": blur_spectrum_figure(sizes, hf, hf_gray, config.cutoff,
                                                  _blur_title(hf, hf_gray)),
        "laplacian_concentration.png": concentration_figure(
            pixels, energy, n_edges / gray.size, edge_share,
            "The Laplacian's energy concentrates on the edges"
            if edge_share > 2 * n_edges / gray.size else
            "The Laplacian's energy is spread beyond the edges"),
    }
    captions = {
        "filters.png": f"The photograph ({width}x{height}) through each kernel: compare the 3x3 "
                       f"kernel of ones (gain {gain['ones_gain_flat']:.2f} on flat areas, "
                       f"{gain['ones_clipped_fraction']:.0%} of pixels clipped white) with the "
                       f"normalized boxes, and see where the Laplacian and Sobel responses are "
                       f"strong (dark).",
        "blur_spectrum.png": f"Share of the image's energy above {config.cutoff:g} cycles/pixel "
                             f"against the box size: from {hf_gray:.2g} in the gray image to "
                             f"{hf[-1]:.2g} at {sizes[-1]}x{sizes[-1]}.",
        "laplacian_concentration.png": f"Cumulative share of the Laplacian's energy against the "
                                       f"share of pixels, strongest Sobel edges first: the "
                                       f"{config.edge_fraction:.0%} strongest hold "
                                       f"{edge_share:.0%} (the dotted diagonal is no "
                                       f"concentration).",
    }

    metrics: dict[str, float] = {
        "image_height": float(height),
        "image_width": float(width),
        **gain,
        "hf_fraction_gray": hf_gray,
        **{f"hf_fraction_box{k}": v for k, v in hf_by_size.items()},
        "hf_monotone": float(monotone),
        "laplacian_edge_energy_share": edge_share,
        "laplacian_edge_lift": edge_share / (n_edges / gray.size),
        "laplacian8_edge_energy_share": edge_share8,
        "laplacian_hf_fraction": hf_laplacian,
        "laplacian_sobel_correlation": correlation,
    }
    answers = _answers(config, metrics, sizes, hf)
    keep = np.linspace(0, pixels.size - 1, _CURVE_POINTS).astype(int)
    arrays = {
        "gray": gray.astype(np.float32),
        "laplacian": laplacian.astype(np.float32),
        "sobel_magnitude": sobel.astype(np.float32),
        "curve_sizes": np.array(sizes),
        "hf_fraction": hf,
        "concentration_pixels": pixels[keep],
        "concentration_energy": energy[keep],
    }
    notes = [f"image: {os.path.basename(path)} (used at {width}x{height}); boundary mode {mode}; "
             "deterministic, seed and seeds are unused"]
    progress(1.0, "done")
    return Result("convolution", config, metrics, answers, figures, arrays, notes,
                  time.perf_counter() - start, captions=captions)


def _answers(config: ConvolutionConfig, m: dict[str, float], sizes: list[int],
             hf: np.ndarray) -> list[Answer]:
    """The three course questions answered with the measured numbers."""
    largest = max(config.blur_sizes)
    hf_largest = m[f"hf_fraction_box{largest}"]
    curve = ", ".join(f"{k}: {v:.2g}" for k, v in zip(sizes, hf))
    if m["hf_fraction_gray"] == 0:
        trend = "The image is flat, so there is nothing to blur."
    else:
        steps = ("falls at every step" if m["hf_monotone"] else "falls overall but not at "
                 "every step (the box's side lobes pass some high frequencies)")
        kept = hf_largest / m["hf_fraction_gray"]
        trend = (f"It {steps}; at {largest}x{largest} only {kept:.2%} of the original share "
                 "remains, because a k-wide average strongly damps every pattern whose period "
                 "is k pixels or shorter.")
    if np.isfinite(m["ones_gain_flat"]):
        gain_value = round(m["ones_gain_flat"], 3)
        measured = (
            f"on the {m['flat_pixels']:.0f} flattest pixels (local std <= "
            f"{m['flat_local_std_max']:.3g}) output/input has median {m['ones_gain_flat']:.3f}, "
            f"and the mean brightness of the whole image grows {m['ones_gain_mean']:.2f}x. "
            f"{m['ones_clipped_fraction']:.0%} of the pixels exceed 1 and show as white. "
            f"Dividing the kernel by its sum (9) turns the sum into an average: the normalized "
            f"box has gain {m['box_gain_flat']:.3f} on the same pixels and only blurs."
        )
    else:
        gain_value = None
        measured = "this image is black, so there is no brightness to measure the gain on."
    return [
        Answer(
            "ones_kernel_gain",
            "What does convolving with a 3x3 kernel of ones do, and how do you fix it?",
            gain_value,
            "Each output pixel is the sum of its 9 neighbours, so where they are nearly equal "
            f"it is about 9 times the input: {measured}",
        ),
        Answer(
            "bigger_kernel_effect",
            "What happens when the (normalized) box kernel gets bigger?",
            float(f"{hf_largest:.3g}"),
            f"A bigger box averages more pixels, so it blurs more: the share of fluctuation "
            f"energy above {config.cutoff:g} cycles/pixel is {m['hf_fraction_gray']:.2g} in the "
            f"gray image and, by kernel size, {curve}. {trend}",
        ),
        Answer(
            "laplacian_highlights",
            "What does the Laplacian kernel highlight?",
            round(m["laplacian_edge_energy_share"], 3),
            f"Small-scale structure, i.e. edges and fine texture: its weights sum to 0 and it "
            f"is a second derivative, so it is zero on flat areas and on smooth ramps. The "
            f"{config.edge_fraction:.0%} of pixels with the strongest Sobel gradient hold "
            f"{m['laplacian_edge_energy_share']:.0%} of the Laplacian's energy "
            f"({m['laplacian_edge_lift']:.1f}x their share of pixels; "
            f"{m['laplacian8_edge_energy_share']:.0%} with the 8-neighbour kernel), and "
            f"{m['laplacian_hf_fraction']:.0%} of its energy lies above {config.cutoff:g} "
            f"cycles/pixel against {m['hf_fraction_gray']:.1%} for the gray image.",
        ),
    ]


EXPERIMENT = Experiment(
    name="convolution",
    description="Image filtering by 2-D convolution: box blur, kernel gain, Laplacian, Sobel.",
    config_class=ConvolutionConfig,
    run=run,
    order=80,
)
