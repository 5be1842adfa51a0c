"""Images as float arrays in [0, 1]: loading, gray conversion, downscaling, spectral content."""
from __future__ import annotations

from pathlib import Path

import numpy as np

GRAY_WEIGHTS = np.array([0.2989, 0.5870, 0.1140])
"""Luma weights of ITU-R BT.601 for red, green and blue."""

SAMPLE_IMAGE = "grace_hopper.jpg"
"""The photograph that ships with matplotlib (``matplotlib.cbook.get_sample_data``)."""


class ImageReadError(ValueError):
    """A file is missing or is not an image Pillow can decode."""


def sample_image_path() -> Path:
    """Path of matplotlib's sample photograph of Grace Hopper (600 x 512 RGB JPEG)."""
    from matplotlib import cbook

    return Path(cbook.get_sample_data(SAMPLE_IMAGE, asfileobj=False))


def check_image_file(path: str | Path) -> None:
    """Raise :class:`ImageReadError` unless ``path`` is a file whose header Pillow recognises.

    Only the header is read, so this is cheap enough to run while validating a configuration.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"no image file at {str(path)!r}")
    try:
        with Image.open(path) as img:
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImageReadError(f"{str(path)!r} is not a readable image ({exc})") from None


def load_image(path: str | Path) -> np.ndarray:
    """The image at ``path`` as floats in [0, 1]: (H, W) for gray, (H, W, 3) for colour.

    Integer samples are divided by their type's maximum (255 for 8-bit, 65535 for 16-bit);
    an alpha channel is dropped.
    """
    import matplotlib.image as mpimg

    check_image_file(path)
    try:
        pixels = mpimg.imread(str(path))
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(f"{str(path)!r} is not a readable image ({exc})") from None
    if np.issubdtype(pixels.dtype, np.integer):
        pixels = pixels / np.iinfo(pixels.dtype).max
    pixels = np.asarray(pixels, dtype=np.float64)
    if pixels.ndim == 3:
        pixels = pixels[..., :3] if pixels.shape[-1] >= 3 else pixels[..., 0]
    return pixels


def rgb2gray(rgb: np.ndarray) -> np.ndarray:
    """Luminance ``0.2989 R + 0.5870 G + 0.1140 B`` of an (..., >=3) array; gray input passes.

    Channels beyond the third (alpha) are ignored; a 2-D array is taken to be gray already.
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    if rgb.ndim == 2:
        return rgb.copy()
    if rgb.shape[-1] < 3:
        raise ValueError(f"rgb2gray needs at least 3 channels, got shape {rgb.shape}")
    return rgb[..., :3] @ GRAY_WEIGHTS


def downscale(image: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink ``image`` by the smallest integer factor s with max(H, W) / s <= ``max_side``.

    Each output pixel is the mean of an s x s block (a box anti-aliasing filter followed by
    sub-sampling); rows and columns that do not fill a whole block are cropped. ``max_side`` 0
    (or an image already small enough) returns the image unchanged.
    """
    image = np.asarray(image, dtype=np.float64)
    height, width = image.shape[:2]
    if max_side <= 0 or max(height, width) <= max_side:
        return image
    s = -(-max(height, width) // max_side)
    h, w = height // s, width // s
    blocks = image[: h * s, : w * s].reshape(h, s, w, s, *image.shape[2:])
    return blocks.mean(axis=(1, 3))


def high_frequency_fraction(image: np.ndarray, cutoff: float) -> float:
    """Share of an image's fluctuation energy at radial frequencies above ``cutoff``.

    With ``F`` the 2-D DFT of the mean-removed, Hann-windowed gray image (the window stops the
    image borders from leaking energy into high frequencies) and ``r = sqrt(fx^2 + fy^2)`` in
    cycles per pixel (Nyquist 0.5 along an axis), returns ``sum_{r > cutoff} |F|^2 /
    sum_{r > 0} |F|^2``, a number in [0, 1] that falls as an image gets smoother. An image
    whose fluctuations are rounding noise (AC energy below 1e-20 of the windowed image's total,
    by Parseval) is flat: 0.
    """
    f = np.asarray(image, dtype=np.float64)
    if f.ndim != 2:
        raise ValueError(f"high_frequency_fraction needs a 2-D image, got shape {f.shape}")
    window = np.outer(np.hanning(f.shape[0]), np.hanning(f.shape[1]))
    power = np.abs(np.fft.fft2((f - f.mean()) * window)) ** 2
    scale = f.size * np.sum((f * window) ** 2)  # Parseval: sum |DFT(f w)|^2 = N sum (f w)^2
    fy = np.fft.fftfreq(f.shape[0])[:, None]
    fx = np.fft.fftfreq(f.shape[1])[None, :]
    radius = np.hypot(fy, fx)
    total = power[radius > 0].sum()
    if total <= 1e-20 * scale:
        return 0.0
    return float(power[radius > cutoff].sum() / total)
