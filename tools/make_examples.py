"""Draw the example product photos in ``examples/`` (deterministic: same bytes on every run with the same libraries).

Every picture is drawn here with NumPy and OpenCV: a mug, a sneaker, a bottle and a handbag with shading,
highlights, texture and a soft shadow on a white backdrop. Good ones and bad ones, named by what they show:

==================================  =====================================================================
file                                what it shows
==================================  =====================================================================
mug_good.jpg                        well-lit, sharp mug filling the frame, centred, pure white backdrop
sneaker_good.jpg                    well-lit, sharp sneaker on white
handbag_transparent.png             handbag on a transparent background (PNG with alpha)
mug_blurred.jpg                     the mug out of focus (Gaussian blur, sigma 5 px)
sneaker_dark.jpg                    underexposed: the sneaker shot far too dark
bottle_overexposed.jpg              overexposed: blown highlights, washed-out bottle
handbag_noisy.jpg                   strong sensor-like noise (grain sigma 28 grey levels)
sneaker_compressed.jpg              heavy JPEG compression (quality 6): visible 8x8 blocks
bottle_low_resolution.jpg           only 180x240 pixels
bottle_cluttered_background.jpg     the bottle in front of a busy, colourful scene
handbag_small_in_frame.jpg          the handbag small and off-centre in a big white frame
mug_watermark.jpg                   a big semi-transparent "SAMPLE" text watermark across the mug
==================================  =====================================================================

Run: ``python tools/make_examples.py [--out examples]``.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

SS = 2  # supersampling factor for anti-aliased edges
Canvas = np.ndarray  # float32 (H, W, 3) in 0..255


def _mask(shape: tuple[int, int], draw: Callable[[np.ndarray], object]) -> np.ndarray:
    """A soft 0..1 mask drawn at ``SS`` x resolution with ``draw(mask_uint8)`` and area-averaged down."""
    h, w = shape
    big = np.zeros((h * SS, w * SS), np.uint8)
    draw(big)
    return cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _paint(canvas: Canvas, mask: np.ndarray, colour: np.ndarray | tuple[float, float, float]) -> None:
    """Alpha-blend ``colour`` (an (H, W, 3) array or an RGB triple) into ``canvas`` through ``mask``."""
    m = mask[:, :, None]
    canvas[:] = canvas * (1 - m) + np.asarray(colour, np.float32) * m


def _cylinder(w: int, h: int, x0: float, x1: float, light: float = 0.35) -> np.ndarray:
    """Horizontal cylindrical shading factor (H, W): dark at the sides, bright a little left of the middle."""
    xs = (np.arange(w, dtype=np.float32) - x0) / max(1.0, x1 - x0)
    theta = (np.clip(xs, 0, 1) - 0.5) * np.pi
    shade = 0.45 + 0.55 * np.cos(theta - (light - 0.5))
    return np.repeat(shade[None, :], h, axis=0)


def _highlight(w: int, h: int, x: float, width: float) -> np.ndarray:
    xs = np.arange(w, dtype=np.float32)
    band = np.exp(-0.5 * ((xs - x) / width) ** 2)
    return np.repeat(band[None, :], h, axis=0)


def _shadow(canvas: Canvas, cx: float, cy: float, rx: float, ry: float, strength: float = 0.35) -> None:
    h, w = canvas.shape[:2]
    m = _mask(
        (h, w),
        lambda a: cv2.ellipse(a, (int(cx * SS), int(cy * SS)), (int(rx * SS), int(ry * SS)), 0, 0, 360, 255, -1),
    )
    m = cv2.GaussianBlur(m, (0, 0), max(2.0, ry * 0.8)) * strength
    _paint(canvas, m, (60, 60, 60))


def _grain(rng: np.random.Generator, h: int, w: int, sigma: float, blur: float) -> np.ndarray:
    g = rng.normal(0, sigma, (h, w)).astype(np.float32)
    return cv2.GaussianBlur(g, (0, 0), blur)[:, :, None]


def _s(v: float) -> int:
    return round(v * SS)


def draw_mug(size: int = 760, scale: float = 1.0, offset: tuple[float, float] = (0, 0), seed: int = 1) -> Canvas:
    rng = np.random.default_rng(seed)
    h = w = size
    c = np.full((h, w, 3), 255, np.float32)
    k = size / 760 * scale
    cx, cy = w / 2 + offset[0] * w - 50 * k, h / 2 + offset[1] * h + 10 * k
    bw, bh = 380 * k, 440 * k
    x0, x1, y0, y1 = cx - bw / 2, cx + bw / 2, cy - bh / 2, cy + bh / 2
    _shadow(c, cx + 30 * k, y1 + 4 * k, bw * 0.75, 22 * k)
    # handle: thick ring on the right
    handle = _mask(
        (h, w),
        lambda a: cv2.ellipse(
            a, (_s(x1), _s(cy)), (_s(110 * k), _s(140 * k)), 0, -80, 80, 255, _s(40 * k), cv2.LINE_AA
        ),
    )
    base = np.array([38, 120, 150], np.float32)
    _paint(c, handle, base * 0.8)

    def mug_body(a: np.ndarray) -> None:
        cv2.rectangle(a, (_s(x0), _s(y0)), (_s(x1), _s(y1)), 255, -1)
        cv2.ellipse(a, (_s(cx), _s(y1)), (_s(bw / 2), _s(26 * k)), 0, 0, 180, 255, -1, cv2.LINE_AA)

    body = _mask((h, w), mug_body)
    shade = _cylinder(w, h, x0, x1)[:, :, None]
    colour = base[None, None, :] * shade + _grain(rng, h, w, 4, 1.0)
    colour += 150 * _highlight(w, h, x0 + 0.28 * bw, 9 * k)[:, :, None]
    _paint(c, body, colour)
    # a printed logo band
    logo = _mask((h, w), lambda a: cv2.circle(a, (_s(cx - 10 * k), _s(cy)), _s(80 * k), 255, _s(14 * k), cv2.LINE_AA))
    _paint(c, logo * body, np.array([245, 235, 210], np.float32)[None, None, :] * shade)
    # rim and inside
    rim = _mask((h, w), lambda a: cv2.ellipse(a, (_s(cx), _s(y0)), (_s(bw / 2), _s(28 * k)), 0, 0, 360, 255, -1))
    _paint(c, rim, (30, 70, 85))
    inner = _mask(
        (h, w),
        lambda a: cv2.ellipse(a, (_s(cx), _s(y0 + 3 * k)), (_s(bw / 2 - 12 * k), _s(20 * k)), 0, 0, 360, 255, -1),
    )
    _paint(c, inner, (232, 226, 214))
    return c


def draw_sneaker(size: int = 760, seed: int = 2) -> Canvas:
    rng = np.random.default_rng(seed)
    h = w = size
    k = size / 760
    c = np.full((h, w, 3), 255, np.float32)
    _shadow(c, w / 2, 545 * k, 310 * k, 24 * k, 0.4)
    sole_pts = np.array([[70, 470], [690, 470], [715, 505], [690, 545], [90, 545], [55, 510]], np.float32) * k
    upper_pts = (
        np.array(
            [
                [85, 475],
                [120, 380],
                [230, 330],
                [330, 250],
                [420, 215],
                [470, 240],
                [520, 330],
                [640, 380],
                [700, 430],
                [700, 475],
            ],
            np.float32,
        )
        * k
    )

    def poly(pts: np.ndarray) -> Callable[[np.ndarray], object]:
        return lambda a: cv2.fillPoly(a, [np.round(pts * SS).astype(np.int32)], 255, cv2.LINE_AA)

    upper = _mask((h, w), poly(upper_pts))
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    red = np.array([200, 45, 50], np.float32)
    colour = red * (1.15 - 0.5 * yy * (size / 760)) + _grain(rng, h, w, 10, 0.8)
    _paint(c, upper, colour)
    stripe_pts = np.array([[180, 440], [420, 350], [560, 380], [300, 455]], np.float32) * k
    _paint(c, _mask((h, w), poly(stripe_pts)) * upper, (245, 245, 240))
    sole = _mask((h, w), poly(sole_pts))
    sole_colour = np.full((h, w, 3), 236, np.float32) - 40 * ((yy * 760 / max(k, 1e-6) - 470) / 75).clip(0, 1)
    _paint(c, sole, sole_colour + _grain(rng, h, w, 3, 0.8))

    def treads(a: np.ndarray) -> None:
        for x in range(90, 690, 22):
            cv2.line(a, (_s(x * k), _s(532 * k)), (_s((x + 14) * k), _s(545 * k)), 255, _s(3 * k), cv2.LINE_AA)

    tread = _mask((h, w), treads)
    _paint(c, tread * sole, (150, 150, 150))

    def lace_lines(a: np.ndarray) -> None:
        for i in range(5):
            start = (_s((300 + 30 * i) * k), _s((300 - 22 * i) * k))
            end = (_s((345 + 30 * i) * k), _s((330 - 22 * i) * k))
            cv2.line(a, start, end, 255, _s(6 * k), cv2.LINE_AA)

    laces = _mask((h, w), lace_lines)
    _paint(c, laces, (250, 250, 250))
    collar = _mask(
        (h, w),
        lambda a: cv2.ellipse(
            a, (_s(470 * k), _s(250 * k)), (_s(55 * k), _s(22 * k)), 20, 0, 360, 255, -1, cv2.LINE_AA
        ),
    )
    _paint(c, collar, (40, 30, 30))
    _paint(
        c,
        upper * 0.8 * _highlight(w, h, 260 * k, 30 * k) * (yy[:, :, 0] < 400 * k / size).astype(np.float32),
        (255, 200, 200),
    )
    return c


def draw_bottle(height: int = 800, width: int = 600, seed: int = 3, backdrop: Canvas | None = None) -> Canvas:
    rng = np.random.default_rng(seed)
    h, w = height, width
    k = height / 800
    c = np.full((h, w, 3), 255, np.float32) if backdrop is None else backdrop.copy()
    cx = w / 2
    _shadow(c, cx + 20 * k, 735 * k, 150 * k, 16 * k)
    bw = 230 * k
    x0, x1 = cx - bw / 2, cx + bw / 2
    body = _mask((h, w), lambda a: cv2.rectangle(a, (_s(x0), _s(260 * k)), (_s(x1), _s(735 * k)), 255, -1))
    shoulder = _mask(
        (h, w),
        lambda a: cv2.ellipse(a, (_s(cx), _s(262 * k)), (_s(bw / 2), _s(90 * k)), 0, 180, 360, 255, -1, cv2.LINE_AA),
    )
    neck = _mask(
        (h, w), lambda a: cv2.rectangle(a, (_s(cx - 38 * k), _s(95 * k)), (_s(cx + 38 * k), _s(200 * k)), 255, -1)
    )
    cap = _mask(
        (h, w), lambda a: cv2.rectangle(a, (_s(cx - 46 * k), _s(55 * k)), (_s(cx + 46 * k), _s(110 * k)), 255, -1)
    )
    green = np.array([40, 110, 60], np.float32)
    shade = _cylinder(w, h, x0, x1)[:, :, None]
    glass = green * shade + _grain(rng, h, w, 3, 1.0) + 170 * _highlight(w, h, x0 + 0.25 * bw, 8 * k)[:, :, None]
    silhouette = np.clip(body + shoulder + neck, 0, 1)
    _paint(c, silhouette, glass)
    _paint(c, cap, np.array([180, 150, 60], np.float32) * _cylinder(w, h, cx - 46 * k, cx + 46 * k)[:, :, None])
    label = _mask((h, w), lambda a: cv2.rectangle(a, (_s(x0), _s(400 * k)), (_s(x1), _s(600 * k)), 255, -1))
    _paint(c, label, np.array([240, 232, 210], np.float32) * (0.6 + 0.4 * shade))
    text = np.zeros((h, w), np.uint8)
    cv2.putText(
        text,
        "OLIVA",
        (int(cx - 85 * k), int(515 * k)),
        cv2.FONT_HERSHEY_DUPLEX,
        1.6 * k,
        255,
        max(1, int(3 * k)),
        cv2.LINE_AA,
    )
    _paint(c, text.astype(np.float32) / 255 * label, (120, 30, 30))
    return c


def draw_handbag(
    size: int = 760,
    scale: float = 1.0,
    centre: tuple[float, float] = (0.5, 0.53),
    seed: int = 4,
    with_shadow: bool = True,
) -> tuple[Canvas, np.ndarray]:
    """The handbag and its coverage mask (for the transparent PNG)."""
    rng = np.random.default_rng(seed)
    h = w = size
    k = size / 760 * scale
    c = np.full((h, w, 3), 255, np.float32)
    cx, cy = centre[0] * w, centre[1] * h
    if with_shadow:
        _shadow(c, cx, cy + 215 * k, 290 * k, 22 * k)
    body_pts = np.array([[-250, 210], [250, 210], [205, -120], [-205, -120]], np.float32) * k + [cx, cy]
    body = _mask((h, w), lambda a: cv2.fillPoly(a, [np.round(body_pts * SS).astype(np.int32)], 255, cv2.LINE_AA))
    handle = _mask(
        (h, w),
        lambda a: cv2.ellipse(
            a, (_s(cx), _s(cy - 120 * k)), (_s(130 * k), _s(150 * k)), 0, 180, 360, 255, _s(22 * k), cv2.LINE_AA
        ),
    )
    tan = np.array([150, 90, 50], np.float32)
    leather = _grain(rng, h, w, 14, 1.2) + _grain(rng, h, w, 5, 0.5)
    yy = (np.arange(h, dtype=np.float32)[:, None, None] - (cy - 120 * k)) / (330 * k)
    colour = (
        tan * (1.1 - 0.35 * np.clip(yy, 0, 1)) * (0.7 + 0.3 * _cylinder(w, h, cx - 250 * k, cx + 250 * k)[:, :, None])
    )
    _paint(c, handle, tan * 0.7 + leather * 0.5)
    _paint(c, body, colour + leather)
    flap_pts = np.array([[-205, -120], [205, -120], [185, 40], [0, 80], [-185, 40]], np.float32) * k + [cx, cy]
    flap = _mask((h, w), lambda a: cv2.fillPoly(a, [np.round(flap_pts * SS).astype(np.int32)], 255, cv2.LINE_AA))
    _paint(c, flap, colour * 0.85 + leather)

    def stitches(a: np.ndarray) -> None:
        for x in range(-190, 190, 16):
            cv2.line(
                a,
                (_s(cx + (x - 4) * k), _s(cy - 110 * k)),
                (_s(cx + (x + 4) * k), _s(cy - 110 * k)),
                255,
                _s(2 * k),
                cv2.LINE_AA,
            )

    stitch = _mask((h, w), stitches)
    _paint(c, stitch, (235, 215, 180))
    clasp = _mask((h, w), lambda a: cv2.circle(a, (_s(cx), _s(cy + 55 * k)), _s(20 * k), 255, -1, cv2.LINE_AA))
    _paint(c, clasp, np.array([215, 190, 90], np.float32) + 40 * _highlight(w, h, cx - 6 * k, 6 * k)[:, :, None])
    coverage = np.clip(body + handle + flap, 0, 1)
    return c, coverage


def cluttered_backdrop(height: int, width: int, seed: int = 5) -> Canvas:
    """A busy scene: a warm wall gradient, a shelf, and many coloured blobs and stripes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    bg = np.stack([150 + 60 * xx / width, 120 + 50 * yy / height, 90 + 30 * np.sin(xx / 40)], axis=2)
    for _ in range(40):
        colour = rng.integers(20, 235, 3).astype(np.float32)
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (int(rng.integers(10, 90)), int(rng.integers(10, 90)))
        m = np.zeros((height, width), np.uint8)
        cv2.ellipse(m, centre, axes, float(rng.integers(0, 180)), 0, 360, 255, -1, cv2.LINE_AA)
        _paint(bg, m.astype(np.float32) / 255, colour)
    cv2.rectangle(bg, (0, int(0.82 * height)), (width, height), (110, 80, 60), -1)
    return bg + _grain(rng, height, width, 6, 1.0)


def watermark(canvas: Canvas, text: str = "SAMPLE") -> Canvas:
    h, w = canvas.shape[:2]
    layer = np.zeros((h, w), np.uint8)
    cv2.putText(
        layer, text, (int(0.08 * w), int(0.62 * h)), cv2.FONT_HERSHEY_SIMPLEX, w / 190, 255, int(w / 60), cv2.LINE_AA
    )
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), 30, 1.0)
    layer = np.asarray(cv2.warpAffine(layer, rot, (w, h)))
    out = canvas.copy()
    _paint(out, layer.astype(np.float32) / 255 * 0.45, (200, 200, 200))
    return out


def _u8(c: Canvas) -> np.ndarray:
    return np.clip(c, 0, 255).round().astype(np.uint8)


def _jpeg(c: Canvas, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_u8(c)).save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def build() -> dict[str, bytes]:
    """All example files as ``{name: bytes}``."""
    rng = np.random.default_rng(7)
    files: dict[str, bytes] = {}
    mug = draw_mug()
    sneaker = draw_sneaker()
    bottle = draw_bottle()
    files["mug_good.jpg"] = _jpeg(mug, 90)
    files["sneaker_good.jpg"] = _jpeg(sneaker, 90)
    bag, coverage = draw_handbag(size=640, with_shadow=False)
    rgba = np.dstack([_u8(bag), np.clip(coverage * 255, 0, 255).round().astype(np.uint8)])
    rgba[coverage <= 0, :3] = 0
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").quantize(colors=255, method=Image.Quantize.FASTOCTREE).save(buf, "PNG", optimize=True)
    files["handbag_transparent.png"] = buf.getvalue()
    files["mug_blurred.jpg"] = _jpeg(cv2.GaussianBlur(mug, (0, 0), 5.0), 90)
    files["sneaker_dark.jpg"] = _jpeg(255 * (sneaker / 255) ** 3.0 * 0.28, 90)
    files["bottle_overexposed.jpg"] = _jpeg(bottle * 2.2 + 50, 90)
    noisy_bag, _ = draw_handbag(size=560)
    files["handbag_noisy.jpg"] = _jpeg(noisy_bag + rng.normal(0, 28, noisy_bag.shape[:2])[:, :, None], 75)
    files["sneaker_compressed.jpg"] = _jpeg(sneaker, 6)
    small = cv2.resize(bottle, (180, 240), interpolation=cv2.INTER_AREA)
    files["bottle_low_resolution.jpg"] = _jpeg(small, 90)
    clutter = draw_bottle(backdrop=cluttered_backdrop(800, 600))
    files["bottle_cluttered_background.jpg"] = _jpeg(clutter, 85)
    tiny_bag, _ = draw_handbag(size=760, scale=0.3, centre=(0.3, 0.35))
    files["handbag_small_in_frame.jpg"] = _jpeg(tiny_bag, 90)
    files["mug_watermark.jpg"] = _jpeg(watermark(mug), 90)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "examples")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in build().items():
        (args.out / name).write_bytes(data)
        print(f"{name:36s} {len(data) / 1024:6.1f} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
