"""Perceptual hashes of decoded pictures (``imagehash``), for near-duplicate search (:mod:`pixgrade.dedupe`)."""

from __future__ import annotations

import imagehash
import numpy as np
from PIL import Image

from pixgrade.io.arrays import check_rgb

__all__ = ["hash_distance", "perceptual_hash"]


def perceptual_hash(rgb: np.ndarray, hash_size: int = 16) -> str:
    """pHash (DCT of the greyscale image resized to ``4 * hash_size`` square, Zauner 2010; ``imagehash.phash``) as
    a hex string of ``hash_size**2`` bits (256 by default: on product photos on white, 64-bit hashes of distinct
    products with the same silhouette collide far more often; see docs/filtering.md).

    Robust to resizing, re-compression and mild colour shifts; not to large crops or rotations.

    Shape:
        - rgb: ``(H, W, 3)`` uint8.
    """
    return str(imagehash.phash(Image.fromarray(check_rgb(rgb)), hash_size=hash_size))


def hash_distance(a: str, b: str) -> int:
    """Hamming distance in bits between two hex hashes of the same length (0 = identical)."""
    if len(a) != len(b):
        raise ValueError(f"hashes of different lengths: {a!r} and {b!r}")
    return int(bin(int(a, 16) ^ int(b, 16)).count("1"))
