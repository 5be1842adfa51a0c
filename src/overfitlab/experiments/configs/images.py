"""The image data sets that the CNN experiments read: their sizes, for the memory footprints of
their configurations, and the environment variable naming the folder of their files."""
from __future__ import annotations

IMAGES = {"digits": 1797, "mnist": 70_000, "fashion-mnist": 70_000, "cifar10": 60_000}
"""Images of every data set (train and test, at most)."""

IMAGE_PIXELS = {"digits": 8 * 8, "mnist": 28 * 28, "fashion-mnist": 28 * 28,
                "cifar10": 32 * 32 * 3}
"""Values per image (height x width x channels)."""

DATA_ENV = "OVERFITLAB_DATA"
"""Environment variable naming the folder of the data sets' files (nothing is downloaded)."""
