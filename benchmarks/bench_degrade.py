"""Speed of each synthetic degradation, and how reliably its strength grows with the level on real photos.

Prints:

1. milliseconds per call of ``pixgrade.degrade.degrade`` at level 3 on a 512×512 picture (median of ``--repeat``);
2. for the first ``--n`` photos of ``products-fashion`` (224×224 JPEG product shots) and of ``livec-train``
   (500×500 phone photos) in ``../shared/data``: the share of photos on which the type's probe statistic moves
   strictly monotonically over levels 0 → 5 (the same probes as ``tests/degrade``: Laplacian variance for blurs,
   Immerkær noise estimate for noise, 8×8 blockiness for JPEG, mean/std of luma for exposure/contrast, HSV
   saturation, shift of the channel means for colour cast, high-frequency energy for low resolution, share of
   identical neighbours for pixelation).

Run::

    python benchmarks/bench_degrade.py --n 100 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from pixgrade.degrade import degrade, list_degradations


def data_dir() -> Path:
    root = os.environ.get("PIXGRADE_DATA") or str(Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    return Path(root).resolve()


def grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)


def laplacian_variance(rgb: np.ndarray, clean: np.ndarray) -> float:
    return float(cv2.Laplacian(grey(rgb), cv2.CV_64F).var())


def noise_sigma(rgb: np.ndarray, clean: np.ndarray) -> float:
    mask = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float64)
    conv = cv2.filter2D(grey(rgb), -1, mask)[1:-1, 1:-1]
    return float(np.sqrt(np.pi / 2.0) * np.abs(conv).mean() / 6.0)


def luma_mean(rgb: np.ndarray, clean: np.ndarray) -> float:
    return float(grey(rgb).mean())


def luma_std(rgb: np.ndarray, clean: np.ndarray) -> float:
    return float(grey(rgb).std())


def saturation(rgb: np.ndarray, clean: np.ndarray) -> float:
    return float(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1].astype(np.float64).mean())


def channel_shift(rgb: np.ndarray, clean: np.ndarray) -> float:
    return float(np.abs(rgb.reshape(-1, 3).mean(0) - clean.reshape(-1, 3).mean(0)).sum())


def blockiness(rgb: np.ndarray, clean: np.ndarray) -> float:
    g = grey(rgb)
    dx, dy = np.abs(np.diff(g, axis=1)), np.abs(np.diff(g, axis=0))
    border = dx[:, 7::8].mean() + dy[7::8, :].mean()
    inner = np.delete(dx, np.s_[7::8], axis=1).mean() + np.delete(dy, np.s_[7::8], axis=0).mean()
    return float(border / (inner + 1e-9))


def high_frequency_energy(rgb: np.ndarray, clean: np.ndarray) -> float:
    g = grey(rgb)
    spec = np.abs(np.fft.fftshift(np.fft.fft2(g - g.mean()))) ** 2
    h, w = g.shape
    radius = np.hypot((np.arange(h) - h // 2)[:, None] / h, (np.arange(w) - w // 2)[None, :] / w)
    return float(spec[radius > 0.125].sum() / max(spec.sum(), 1e-12))


def flat_neighbours(rgb: np.ndarray, clean: np.ndarray) -> float:
    return float((np.abs(np.diff(rgb.astype(np.int16), axis=1)).sum(axis=2) == 0).mean())


Probe = Callable[[np.ndarray, np.ndarray], float]
PROBES: dict[str, tuple[Probe, int]] = {
    "gaussian_blur": (laplacian_variance, -1),
    "motion_blur": (laplacian_variance, -1),
    "defocus_blur": (laplacian_variance, -1),
    "gaussian_noise": (noise_sigma, +1),
    "shot_noise": (noise_sigma, +1),
    "jpeg": (blockiness, +1),
    "overexposure": (luma_mean, +1),
    "underexposure": (luma_mean, -1),
    "low_contrast": (luma_std, -1),
    "haze": (luma_std, -1),
    "desaturation": (saturation, -1),
    "colour_cast": (channel_shift, +1),
    "low_resolution": (high_frequency_energy, -1),
    "pixelate": (flat_neighbours, +1),
}


def timing(repeat: int) -> None:
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8), (0, 0), 2)
    print(f"\n1. ms per degrade() call at level 3, 512x512 RGB, median of {repeat}:")
    for name in list_degradations():
        times = []
        for i in range(repeat):
            start = time.perf_counter()
            degrade(img, name, 3, seed=i)
            times.append(time.perf_counter() - start)
        print(f"   {name:16s} {1000 * float(np.median(times)):7.1f} ms")


def monotonicity(folder: Path, pattern: str, n: int) -> None:
    files = sorted(folder.glob(pattern))[:n]
    if not files:
        print(f"\n   (no photos at {folder}/{pattern}; skipped)")
        return
    print(f"\n2. photos whose probe moves strictly monotonically with the level — {len(files)} photos, {folder}:")
    print(f"   {'type':16s} {'levels 0..5':>12s} {'levels 1..5':>12s}")
    from_zero = dict.fromkeys(PROBES, 0)
    from_one = dict.fromkeys(PROBES, 0)
    for index, path in enumerate(files):
        with Image.open(path) as im:
            clean = np.asarray(im.convert("RGB"))
        for name, (probe, direction) in PROBES.items():
            steps = direction * np.diff([probe(degrade(clean, name, level, seed=index), clean) for level in range(6)])
            from_zero[name] += bool((steps > 0).all())
            from_one[name] += bool((steps[1:] > 0).all())
    for name in PROBES:
        share0, share1 = 100.0 * from_zero[name] / len(files), 100.0 * from_one[name] / len(files)
        print(f"   {name:16s} {share0:11.0f}% {share1:11.0f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="photos per data set for the monotonicity check")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cpus, load = os.cpu_count(), os.getloadavg()[0]
    print(f"machine: {platform.machine()}, {cpus} CPUs, Python {platform.python_version()}, load average {load:.1f}")
    print(f"command: python benchmarks/bench_degrade.py --n {args.n} --repeat {args.repeat}")
    timing(args.repeat)
    root = data_dir()
    monotonicity(root / "products-fashion" / "images", "*.jpg", args.n)
    monotonicity(root / "livec-train" / "images", "*", args.n)


if __name__ == "__main__":
    main()
