"""scikit-learn's bundled 8x8 handwritten digits as NHWC images (no download, no files)."""
from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits as _sklearn_digits

DIGITS_MAX = 16.0  # pixel values of the bundled digits are integers 0..16


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits: images ``(1797, 8, 8, 1)`` float32 scaled to [0, 1], labels int32 0..9.

    The set has no official test split; callers hold part of it out.
    """
    bunch = _sklearn_digits()
    images = (bunch.images / DIGITS_MAX).astype(np.float32)[..., None]
    return images, bunch.target.astype(np.int32)
