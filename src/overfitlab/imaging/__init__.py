"""Image filtering by 2-D convolution: the operator, classic kernels, image loading."""
from overfitlab.imaging.convolve import MODES, convolve2d, sobel_magnitude
from overfitlab.imaging.images import load_image, rgb2gray
from overfitlab.imaging.kernels import box_kernel, gaussian_kernel, laplacian_kernel, sobel_kernel

__all__ = [
    "MODES",
    "box_kernel",
    "convolve2d",
    "gaussian_kernel",
    "laplacian_kernel",
    "load_image",
    "rgb2gray",
    "sobel_kernel",
    "sobel_magnitude",
]
