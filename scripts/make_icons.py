"""Draw oO's icons (the PWA's 192/512 and maskable icons, the Apple touch icon, the favicon) into ``assets/``.

The mark is geometry, not type: a small ring and a large ring, white on black, so it renders the same everywhere.
Maskable icons keep the mark inside the central 80% safe zone (W3C "maskable" purpose). Run once after changing
the mark: ``python scripts/make_icons.py``; the outputs are committed.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ASSETS = Path(__file__).resolve().parents[1] / "assets"
BLACK, WHITE = (0, 0, 0, 255), (242, 242, 242, 255)
SUPERSAMPLE = 4


def draw_mark(size: int, scale: float) -> Image.Image:
    """The mark on a black square of ``size`` px; ``scale`` is the mark's width as a share of the side."""
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), BLACK)
    draw = ImageDraw.Draw(image)
    width = big * scale
    small_d, large_d, gap = width * 0.34, width * 0.58, width * 0.08
    stroke = max(1, round(width * 0.055))
    left = (big - width) / 2
    baseline = big / 2 + large_d / 2
    small_x = left
    large_x = left + small_d + gap
    draw.ellipse((small_x, baseline - small_d, small_x + small_d, baseline), outline=WHITE, width=stroke)
    draw.ellipse((large_x, baseline - large_d, large_x + large_d, baseline), outline=WHITE, width=stroke)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    icons = ASSETS / "icons"
    icons.mkdir(parents=True, exist_ok=True)
    draw_mark(192, 0.78).save(icons / "icon-192.png", optimize=True)
    draw_mark(512, 0.78).save(icons / "icon-512.png", optimize=True)
    draw_mark(512, 0.6).save(icons / "maskable-512.png", optimize=True)
    draw_mark(180, 0.7).save(ASSETS / "apple-touch-icon.png", optimize=True)
    draw_mark(48, 0.86).save(ASSETS / "favicon.ico", sizes=[(16, 16), (32, 32), (48, 48)])


if __name__ == "__main__":
    main()
