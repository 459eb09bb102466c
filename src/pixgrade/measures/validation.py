"""Input checks shared by every measure (:mod:`pixgrade.io.arrays`, the one home of the image-array checks)."""

from __future__ import annotations

from pixgrade.io.arrays import check_alpha, check_rgb

__all__ = ["check_alpha", "check_rgb"]
