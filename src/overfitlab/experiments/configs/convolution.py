"""Configuration of the convolution experiment (:mod:`overfitlab.experiments.convolution`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from overfitlab.errors import ConfigError
from overfitlab.experiments.base import Config
from overfitlab.experiments.params import param
from overfitlab.imaging.convolve import MODES
from overfitlab.imaging.images import ImageReadError, check_image_file

_MAX_KERNEL = 101


@dataclass(frozen=True)
class ConvolutionConfig(Config):
    """Parameters of the convolution experiment (defaults: the full preset)."""

    image: str | None = param(None, "PNG/JPEG path; none: the photograph shipped with "
                              "matplotlib")
    max_side: int = param(0, "downscale (block mean) so the longer side is <= max_side; 0 "
                          "keeps the size", low=0, high=100_000)
    mode: str = param("reflect", "boundary mode of every convolution", choices=MODES)
    blur_sizes: tuple[int, ...] = param((3, 7, 15), "box blurs shown in the gallery", low=1,
                                        high=_MAX_KERNEL)
    curve_sizes: tuple[int, ...] = param((1, 3, 5, 7, 9, 11, 15, 21, 31),
                                         "box sizes of the spectrum curve", low=1,
                                         high=_MAX_KERNEL)
    cutoff: float = param(0.25, "radial frequency (cycles/pixel) above which energy counts as "
                          "high", low=0.0, high=0.5, low_open=True, high_open=True)
    flat_fraction: float = param(0.05, "share of pixels with the lowest local spread called "
                                 "flat", low=0.0, high=1.0, low_open=True, high_open=True)
    edge_fraction: float = param(0.10, "share of pixels with the largest Sobel magnitude called "
                                 "edges", low=0.0, high=1.0, low_open=True, high_open=True)

    QUICK: ClassVar[dict] = {"max_side": 160}
    USES_SEEDS: ClassVar[bool] = False

    def validate(self) -> None:
        if self.image is not None:
            try:
                check_image_file(self.image)
            except ImageReadError as exc:
                raise ConfigError(
                    f"image: {exc}; pass --set image=PATH to a PNG or JPEG file "
                    "(or image=none for the bundled photograph)"
                ) from None
        if self.max_side != 0 and self.max_side < 16:
            raise ConfigError(f"max_side must be 0 (keep size) or >= 16, got {self.max_side}")
        if len(set(self.curve_sizes)) < 2:
            raise ConfigError(
                f"curve_sizes needs at least 2 distinct sizes, got {self.curve_sizes}"
            )
