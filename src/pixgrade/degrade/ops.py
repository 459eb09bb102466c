"""The degradation functions. Each is registered with its five level strengths (level 1 … 5).

Tone changes (exposure, colour cast) are applied in linear light (sRGB transfer approximated by a 2.2
power law); spatial strengths are given for a 512-pixel longest side and scaled to the image
(:data:`~pixgrade.degrade.registry.REFERENCE_SIDE`).
"""

from __future__ import annotations

import io
import math

import cv2
import numpy as np
from PIL import Image

from pixgrade.degrade.registry import REFERENCE_SIDE, register_degradation

__all__ = [
    "colour_cast",
    "defocus_blur",
    "desaturation",
    "gaussian_blur",
    "gaussian_noise",
    "haze",
    "jpeg",
    "low_contrast",
    "low_resolution",
    "motion_blur",
    "overexposure",
    "pixelate",
    "shot_noise",
    "underexposure",
]

_GAMMA = 2.2
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # BT.601 luma weights on R, G, B


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _scale(rgb: np.ndarray) -> float:
    """Spatial scale factor of this image relative to the reference longest side."""
    return max(rgb.shape[:2]) / REFERENCE_SIDE


def _to_linear(rgb: np.ndarray) -> np.ndarray:
    return np.power(rgb.astype(np.float32) / 255.0, _GAMMA)


def _from_linear(lin: np.ndarray) -> np.ndarray:
    return _to_uint8(np.power(np.clip(lin, 0.0, 1.0), 1.0 / _GAMMA) * 255.0)


def _filter(rgb: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    out = cv2.filter2D(rgb.astype(np.float32), -1, kernel.astype(np.float32), borderType=cv2.BORDER_REFLECT_101)
    return _to_uint8(out)


# --- blur -------------------------------------------------------------------------------------------------


@register_degradation(
    "gaussian_blur",
    "blur",
    (1.0, 1.8, 3.0, 4.6, 7.0),
    unit="Gaussian sigma, pixels at 512 px",
    description="out-of-focus softness (Gaussian point spread)",
)
def gaussian_blur(rgb: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` (reference pixels)."""
    s = sigma * _scale(rgb)
    return cv2.GaussianBlur(rgb, (0, 0), sigmaX=s, sigmaY=s, borderType=cv2.BORDER_REFLECT_101)


def _motion_kernel(length: float, angle_deg: float) -> np.ndarray:
    size = 2 * math.ceil(length / 2) + 1
    line = np.zeros((size, size), np.float32)
    centre = size // 2
    half = length / 2
    xs = np.arange(size, dtype=np.float32) - centre
    # a horizontal segment of the exact length with fractional end weights, then rotated
    line[centre] = np.clip(half + 0.5 - np.abs(xs), 0.0, 1.0)
    rot = cv2.getRotationMatrix2D((float(centre), float(centre)), angle_deg, 1.0)
    kernel = cv2.warpAffine(line, rot, (size, size), flags=cv2.INTER_LINEAR)
    return kernel / kernel.sum()


@register_degradation(
    "motion_blur",
    "blur",
    (3.0, 6.0, 10.0, 16.0, 25.0),
    unit="streak length, pixels at 512 px (random direction)",
    description="camera shake: a straight streak in a random direction",
)
def motion_blur(rgb: np.ndarray, length: float, rng: np.random.Generator) -> np.ndarray:
    """Linear motion blur of ``length`` reference pixels in a direction drawn from ``rng``."""
    angle = float(rng.uniform(0.0, 180.0))
    return _filter(rgb, _motion_kernel(max(1.0, length * _scale(rgb)), angle))


def _disk_kernel(radius: float, supersample: int = 8) -> np.ndarray:
    """Each weight is the fraction of that pixel's square covered by a disk of ``radius`` (8×8 subsamples)."""
    half = math.ceil(radius + 0.5)
    offsets = (np.arange(supersample, dtype=np.float32) + 0.5) / supersample - 0.5
    coords = (np.arange(-half, half + 1, dtype=np.float32)[:, None] + offsets[None, :]).ravel()
    inside = (np.hypot(coords[:, None], coords[None, :]) <= radius).astype(np.float32)
    n = 2 * half + 1
    kernel = inside.reshape(n, supersample, n, supersample).mean(axis=(1, 3))
    if kernel.sum() == 0:  # a disk smaller than one subsample: no blur
        kernel[half, half] = 1.0
    return kernel / kernel.sum()


@register_degradation(
    "defocus_blur",
    "blur",
    (1.5, 2.5, 4.0, 6.0, 9.0),
    unit="disk radius, pixels at 512 px",
    description="lens defocus (uniform disk point spread)",
)
def defocus_blur(rgb: np.ndarray, radius: float, rng: np.random.Generator) -> np.ndarray:
    """Convolution with an anti-aliased disk of ``radius`` reference pixels."""
    return _filter(rgb, _disk_kernel(radius * _scale(rgb)))


# --- noise ------------------------------------------------------------------------------------------------


@register_degradation(
    "gaussian_noise",
    "noise",
    (3.0, 6.0, 11.0, 18.0, 28.0),
    unit="noise sigma, 0–255 grey levels",
    description="additive white Gaussian noise, independent per channel",
)
def gaussian_noise(rgb: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian noise of standard deviation ``sigma`` grey levels."""
    noise = rng.standard_normal(rgb.shape, dtype=np.float32) * np.float32(sigma)
    return _to_uint8(rgb.astype(np.float32) + noise)


@register_degradation(
    "shot_noise",
    "noise",
    (3.0, 6.0, 11.0, 18.0, 28.0),
    unit="noise sigma at mid-grey, 0–255 grey levels",
    description="photon (Poisson) noise: stronger in bright areas, like a small sensor in low light",
)
def shot_noise(rgb: np.ndarray, sigma_mid: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson noise whose standard deviation at mid-grey is ``sigma_mid`` grey levels."""
    peak = 0.5 * (255.0 / sigma_mid) ** 2  # photons at full scale: std at value v is 255*sqrt(v/peak)
    photons = rng.poisson(rgb.astype(np.float64) / 255.0 * peak)
    return _to_uint8(photons * (255.0 / peak))


# --- compression --------------------------------------------------------------------------------------------


@register_degradation(
    "jpeg",
    "compression",
    (60.0, 40.0, 25.0, 15.0, 8.0),
    unit="JPEG quality (Pillow/libjpeg, 4:2:0)",
    description="JPEG re-encoding at decreasing quality: 8×8 blocks, ringing, colour bleeding",
)
def jpeg(rgb: np.ndarray, quality: float, rng: np.random.Generator) -> np.ndarray:
    """Encode as JPEG at ``quality`` with Pillow (4:2:0 chroma subsampling) and decode again."""
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="JPEG", quality=round(quality), subsampling=2)
    buf.seek(0)
    with Image.open(buf) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


# --- exposure, contrast, colour ----------------------------------------------------------------------------


@register_degradation(
    "overexposure",
    "overexposure",
    (0.3, 0.65, 1.05, 1.5, 2.1),
    unit="exposure increase, EV (stops), with highlight clipping",
    description="too much light: everything brighter, highlights clip to white",
)
def overexposure(rgb: np.ndarray, ev: float, rng: np.random.Generator) -> np.ndarray:
    """Multiply linear light by ``2**ev`` and clip."""
    return _from_linear(_to_linear(rgb) * np.float32(2.0**ev))


@register_degradation(
    "underexposure",
    "underexposure",
    (0.5, 1.0, 1.6, 2.3, 3.2),
    unit="exposure decrease, EV (stops)",
    description="too little light: everything darker, shadows crush to black",
)
def underexposure(rgb: np.ndarray, ev: float, rng: np.random.Generator) -> np.ndarray:
    """Multiply linear light by ``2**-ev``."""
    return _from_linear(_to_linear(rgb) * np.float32(2.0**-ev))


@register_degradation(
    "low_contrast",
    "low_contrast",
    (0.8, 0.63, 0.47, 0.33, 0.2),
    unit="contrast kept (1 = unchanged)",
    description="flat, washed-out tones: values pulled towards the image mean",
)
def low_contrast(rgb: np.ndarray, keep: float, rng: np.random.Generator) -> np.ndarray:
    """Scale deviations from the mean luma by ``keep``."""
    x = rgb.astype(np.float32)
    mean = float((x @ _LUMA).mean())
    return _to_uint8(mean + (x - mean) * np.float32(keep))


@register_degradation(
    "haze",
    "low_contrast",
    (0.12, 0.24, 0.36, 0.5, 0.65),
    unit="veil opacity (0 = none)",
    description="veiling glare or haze: a light grey veil over the picture",
)
def haze(rgb: np.ndarray, opacity: float, rng: np.random.Generator) -> np.ndarray:
    """Blend with a light grey veil (value 225) at ``opacity``."""
    x = rgb.astype(np.float32)
    return _to_uint8(x * np.float32(1.0 - opacity) + np.float32(225.0 * opacity))


@register_degradation(
    "desaturation",
    "colour",
    (0.75, 0.55, 0.38, 0.22, 0.08),
    unit="saturation kept (1 = unchanged)",
    description="dull, greyish colours",
)
def desaturation(rgb: np.ndarray, keep: float, rng: np.random.Generator) -> np.ndarray:
    """Blend each pixel with its luma: chroma scaled by ``keep``."""
    x = rgb.astype(np.float32)
    luma = (x @ _LUMA)[..., None]
    return _to_uint8(luma + (x - luma) * np.float32(keep))


@register_degradation(
    "colour_cast",
    "colour",
    (0.08, 0.16, 0.26, 0.38, 0.52),
    unit="white-balance error, log channel gain amplitude (random hue)",
    description="wrong white balance: a tint of a random hue (warm, cool, green, magenta …)",
)
def colour_cast(rgb: np.ndarray, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """Per-channel gains ``exp(amplitude * cos(hue - channel_angle))`` in linear light, luminance kept."""
    hue = float(rng.uniform(0.0, 2.0 * math.pi))
    angles = np.array([0.0, 2.0 * math.pi / 3.0, 4.0 * math.pi / 3.0])
    gains = np.exp(amplitude * np.cos(hue - angles))
    gains /= float(gains @ np.array([0.2126, 0.7152, 0.0722]))  # keep linear luminance of grey
    return _from_linear(_to_linear(rgb) * gains.astype(np.float32))


# --- resolution ---------------------------------------------------------------------------------------------


def _resample(rgb: np.ndarray, factor: float, up: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    small = (max(1, round(w / factor)), max(1, round(h / factor)))
    down = cv2.resize(rgb, small, interpolation=cv2.INTER_AREA)
    return cv2.resize(down, (w, h), interpolation=up)


@register_degradation(
    "low_resolution",
    "low_resolution",
    (1.5, 2.0, 3.0, 4.5, 6.5),
    unit="downscale factor (then bicubic upscaling back)",
    description="an upscaled small picture: soft, detail-less, slight ringing",
)
def low_resolution(rgb: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Downscale by ``factor`` (area) and upscale back to the original size (bicubic)."""
    return _resample(rgb, factor, cv2.INTER_CUBIC)


@register_degradation(
    "pixelate",
    "low_resolution",
    (2.4, 3.6, 5.5, 8.5, 13.0),
    unit="block size, pixels at 512 px",
    description="visible square pixels (nearest-neighbour upscaling)",
)
def pixelate(rgb: np.ndarray, block: float, rng: np.random.Generator) -> np.ndarray:
    """Average over blocks of ``block`` reference pixels (at least 1.5 pixels, so that level 1 still makes
    visible steps on small pictures) and upscale with nearest neighbour."""
    return _resample(rgb, max(1.5, block * _scale(rgb)), cv2.INTER_NEAREST)
