"""Classic convolution kernels: box, Gaussian, Laplacian and Sobel.

All kernels are meant for :func:`overfitlab.imaging.convolve.convolve2d` (a true convolution,
centre at index ``k//2``).
"""
from __future__ import annotations

import numpy as np


def box_kernel(size: int, normalize: bool = True) -> np.ndarray:
    """A ``size`` x ``size`` box: all ones (sum ``size**2``), or all ``1/size**2`` (sum 1).

    Convolving with the unnormalized box sums the ``size**2`` neighbours, so it multiplies a flat
    region by ``size**2``; the normalized box averages them and leaves a flat region unchanged.
    """
    if size < 1:
        raise ValueError(f"box size must be >= 1, got {size}")
    ones = np.ones((size, size))
    return ones / ones.size if normalize else ones


def gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """The sampled 2-D Gaussian ``exp(-(x^2 + y^2) / (2 sigma^2))``, normalized to sum 1.

    Its radius is ``r = int(truncate * sigma + 0.5)`` (as in ``scipy.ndimage.gaussian_filter``),
    so the kernel is (2r+1) x (2r+1). It is the outer product of two normalized 1-D Gaussians,
    hence separable.
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    g /= g.sum()
    return np.outer(g, g)


def laplacian_kernel(neighbours: int = 4) -> np.ndarray:
    """The discrete Laplacian on a 3 x 3 stencil (sum 0).

    4 neighbours: ``f[i-1,j] + f[i+1,j] + f[i,j-1] + f[i,j+1] - 4 f[i,j]``, the sum of the
    second differences along both axes (exact for quadratics: it returns 4 on ``x^2 + y^2``).
    8 neighbours adds the diagonals: ``sum of the 8 neighbours - 8 f[i,j]``.
    """
    if neighbours == 4:
        return np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
    if neighbours == 8:
        kernel = np.ones((3, 3))
        kernel[1, 1] = -8.0
        return kernel
    raise ValueError(f"neighbours must be 4 or 8, got {neighbours}")


def sobel_kernel(axis: int) -> np.ndarray:
    """The Sobel derivative along ``axis`` (0: rows / y, 1: columns / x), smoothed across it.

    As a convolution kernel it computes ``(f[.., i+1] - f[.., i-1])`` weighted 1, 2, 1 over the
    three lines across ``axis``: positive where intensity increases with the index, the same
    sign as ``scipy.ndimage.sobel``. The kernel is the outer product of the smoothing [1, 2, 1]
    and the flipped central difference [1, 0, -1].
    """
    smooth = np.array([1.0, 2.0, 1.0])
    derivative = np.array([1.0, 0.0, -1.0])  # flipped by the convolution into [-1, 0, 1]
    if axis == 0:
        return np.outer(derivative, smooth)
    if axis == 1:
        return np.outer(smooth, derivative)
    raise ValueError(f"axis must be 0 or 1, got {axis}")
