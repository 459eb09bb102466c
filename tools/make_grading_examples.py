"""Draw the example pictures of docs/grading.md into ``docs/images/grading/`` (small JPEGs, deterministic).

Two held-out studio photos of ``../shared/data/products-fashion`` (never used in training), clean and with a few
registered degradations at the level whose grade the standard sets, each 160 px on the longest side.

Run: ``python tools/make_grading_examples.py [--data ../shared/data/products-fashion] [--out docs/images/grading]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from pixgrade.degrade import degrade, synthetic_target

ROOT = Path(__file__).resolve().parents[1]
#: (product id, degradation, level) of each example; level 0 = the clean photo.
EXAMPLES: tuple[tuple[int, str, int], ...] = (
    (10344, "none", 0),
    (10344, "gaussian_blur", 2),
    (10344, "gaussian_blur", 5),
    (10344, "colour_cast", 5),
    (10344, "desaturation", 5),
    (10344, "jpeg", 5),
    (10344, "overexposure", 4),
    (10344, "low_resolution", 5),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT / "../shared/data/products-fashion"))
    parser.add_argument("--out", default=str(ROOT / "docs/images/grading"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for pid, name, level in EXAMPLES:
        with Image.open(Path(args.data) / "images" / f"{pid}.jpg") as image:
            rgb = np.asarray(image.convert("RGB"))
        if level:
            rgb = degrade(rgb, name, level, seed=pid)
        picture = Image.fromarray(rgb)
        picture.thumbnail((160, 160), Image.Resampling.LANCZOS)
        path = out / (f"{pid}_clean.jpg" if level == 0 else f"{pid}_{name}_{level}.jpg")
        picture.save(path, quality=92)
        print(f"{path.name}: target grade {synthetic_target(name, level):.1f}")


if __name__ == "__main__":
    main()
