"""Full-reference comparison (PSNR, SSIM, MS-SSIM and the learned grade of both images) and quality-guaranteed
delivery renditions (:mod:`pixgrade.fullref.renditions`)."""

from pixgrade.fullref.compare import CompareRow, compare, compare_columns
from pixgrade.fullref.metrics import FullReference, full_reference, ms_ssim, psnr, ssim

__all__ = [
    "CompareRow",
    "FullReference",
    "compare",
    "compare_columns",
    "full_reference",
    "ms_ssim",
    "psnr",
    "ssim",
]
