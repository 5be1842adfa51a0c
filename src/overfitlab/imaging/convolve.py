"""Vectorized 2-D discrete convolution with the boundary modes of ``scipy.ndimage.convolve``.

For an image ``f`` of shape (H, W) and a kernel ``w`` of shape (kh, kw) the output is

    g[i, j] = sum_{m < kh, n < kw} w[m, n] * f[i + kh//2 - m, j + kw//2 - n]

i.e. a true convolution (the kernel is flipped) whose centre sits at index ``(kh//2, kw//2)``,
for odd and even sizes alike: this is SciPy's convention with ``origin=0``. Indices outside the
image are filled by the boundary ``mode`` (SciPy's names; numpy's ``np.pad`` equivalent in
brackets):

    reflect   d c b a | a b c d | d c b a   (symmetric; the edge sample is repeated)
    mirror      d c b | a b c d | c b a     (reflect; the edge sample is not repeated)
    nearest   a a a a | a b c d | d d d d   (edge)
    wrap      a b c d | a b c d | a b c d   (wrap)
    constant  k k k k | a b c d | k k k k   (constant, k = ``cval``)

The computation pads once with numpy and adds one shifted slice of the padded image per kernel
tap, so the only Python loop runs over the kh * kw taps, never over pixels.
"""
from __future__ import annotations

import numpy as np

from overfitlab.imaging.kernels import sobel_kernel

_NUMPY_PAD_MODE = {
    "reflect": "symmetric",
    "grid-mirror": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "wrap",
    "grid-wrap": "wrap",
    "constant": "constant",
    "grid-constant": "constant",
}

MODES: tuple[str, ...] = ("reflect", "mirror", "nearest", "wrap", "constant")
"""The boundary modes (SciPy also accepts the aliases grid-mirror, grid-wrap, grid-constant)."""


def pad_for_kernel(image: np.ndarray, kernel_shape: tuple[int, int], mode: str = "reflect",
                   cval: float = 0.0) -> np.ndarray:
    """Pad ``image`` so that every tap of a kernel of ``kernel_shape`` has a sample to read.

    A kernel of size k centred at k//2 reads ``k - 1 - k//2`` samples before the first pixel and
    ``k//2`` after the last one along each axis.
    """
    if mode not in _NUMPY_PAD_MODE:
        raise ValueError(f"unknown boundary mode {mode!r}; use one of {', '.join(_NUMPY_PAD_MODE)}")
    widths = [(k - 1 - k // 2, k // 2) for k in kernel_shape]
    np_mode = _NUMPY_PAD_MODE[mode]
    if np_mode == "constant":
        return np.pad(image, widths, mode="constant", constant_values=cval)
    return np.pad(image, widths, mode=np_mode)


def convolve2d(image: np.ndarray, kernel: np.ndarray, mode: str = "reflect",
               cval: float = 0.0) -> np.ndarray:
    """The 2-D convolution ``image * kernel`` (same shape as ``image``, float64).

    Equal to ``scipy.ndimage.convolve(image, kernel, mode=mode, cval=cval)`` for every mode in
    :data:`MODES` (see the module docstring for the formula and the boundary extensions).
    """
    f = np.asarray(image, dtype=np.float64)
    w = np.asarray(kernel, dtype=np.float64)
    if f.ndim != 2 or w.ndim != 2:
        raise ValueError(f"convolve2d needs a 2-D image and kernel, got {f.shape} and {w.shape}")
    if w.size == 0:
        raise ValueError("the kernel is empty")
    padded = pad_for_kernel(f, w.shape, mode, cval)
    height, width = f.shape
    kh, kw = w.shape
    # With p = padded, g[i, j] = sum_{a, b} w[kh-1-a, kw-1-b] * p[i + a, j + b].
    flipped = w[::-1, ::-1]
    out = np.zeros_like(f)
    for a in range(kh):
        for b in range(kw):
            out += flipped[a, b] * padded[a:a + height, b:b + width]
    return out


def sobel_magnitude(image: np.ndarray, mode: str = "reflect") -> np.ndarray:
    """Gradient magnitude ``sqrt(Gy^2 + Gx^2)`` from the two Sobel derivatives of ``image``."""
    gy = convolve2d(image, sobel_kernel(0), mode=mode)
    gx = convolve2d(image, sobel_kernel(1), mode=mode)
    return np.hypot(gy, gx)
