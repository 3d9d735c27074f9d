"""The tray picture: a 64x64 disc whose colour and glyph say the state, legible down to 16 px.

idle: green check; working: blue ring filled by progress; paused: amber bars; error: red "!";
unreachable: grey cross. A red badge marks recent failures while working or paused.
"""

from __future__ import annotations

from PIL import Image, ImageDraw

from tray.state import KINDS, PROGRESS_STEPS, View

SIZE = 64
SCALE = 4  # drawn large and scaled down, for smooth edges (ImageDraw does not antialias)
COLOURS = {
    "idle": (46, 160, 67),
    "working": (31, 111, 235),
    "paused": (224, 150, 0),
    "error": (214, 40, 40),
    "unreachable": (120, 124, 130),
}
WHITE = (255, 255, 255, 255)
OUTLINE = (20, 20, 20, 200)  # keeps the disc visible on light and dark panels alike


def picture(view: View, size: int = SIZE) -> Image.Image:
    kind, step, badge = view.picture
    return draw(kind, step / PROGRESS_STEPS, badge, size)


def draw(kind: str, progress: float = 0.0, badge: bool = False, size: int = SIZE) -> Image.Image:
    if kind not in KINDS:
        raise ValueError(f"unknown tray state {kind!r}")
    big = SIZE * SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    colour = (*COLOURS[kind], 255)
    edge = 6
    disc = (edge, edge, big - 1 - edge, big - 1 - edge)
    if kind == "working":
        pen.ellipse(disc, fill=(*_tint(COLOURS[kind], 0.62), 255), outline=OUTLINE, width=6)
        # at least a sliver, so "working" never looks like an empty ring
        sweep = 360 * min(1.0, max(progress, 1 / PROGRESS_STEPS))
        pen.pieslice(disc, -90, -90 + sweep, fill=colour)
        hole = big * 0.26
        pen.ellipse((hole, hole, big - hole, big - hole), fill=WHITE, outline=OUTLINE, width=4)
        dot = big * 0.41
        pen.ellipse((dot, dot, big - dot, big - dot), fill=colour)
    else:
        pen.ellipse(disc, fill=colour, outline=OUTLINE, width=6)
        _glyph(pen, kind, big)
    if badge:
        radius = big * 0.2
        centre = big - radius - 2
        pen.ellipse(
            (centre - radius, 2, centre + radius, 2 + 2 * radius),
            fill=(*COLOURS["error"], 255),
            outline=WHITE,
            width=10,
        )
    return image.resize((size, size), Image.Resampling.LANCZOS)


def _glyph(pen: ImageDraw.ImageDraw, kind: str, big: int) -> None:
    unit = big / 16
    stroke = round(unit * 2.2)
    if kind == "idle":
        check = [(unit * 4.4, unit * 8.2), (unit * 7, unit * 10.8), (unit * 11.8, unit * 5.4)]
        pen.line(check, fill=WHITE, width=stroke, joint="curve")
    elif kind == "paused":
        for left in (unit * 5.2, unit * 9.0):
            pen.rectangle((left, unit * 4.6, left + unit * 1.8, unit * 11.4), fill=WHITE)
    elif kind == "error":
        pen.rectangle((unit * 7.0, unit * 3.6, unit * 9.0, unit * 9.4), fill=WHITE)
        pen.ellipse((unit * 6.9, unit * 10.4, unit * 9.1, unit * 12.6), fill=WHITE)
    elif kind == "unreachable":
        for start, end in (((5, 5), (11, 11)), ((11, 5), (5, 11))):
            pen.line([(unit * start[0], unit * start[1]), (unit * end[0], unit * end[1])], fill=WHITE, width=stroke)


def _tint(colour: tuple[int, int, int], amount: float) -> tuple[int, int, int]:
    return tuple(round(channel + (255 - channel) * amount) for channel in colour)  # type: ignore[return-value]


def sheet(sizes: tuple[int, ...] = (64, 24, 16)) -> Image.Image:
    """Every state at each size, on a light and a dark strip: for a person to judge legibility."""
    samples = [("idle", 0.0, False), ("working", 0.35, False), ("working", 0.8, True), ("paused", 0.0, False)]
    samples += [("paused", 0.0, True), ("error", 0.0, False), ("unreachable", 0.0, False)]
    cell = max(sizes) + 8
    out = Image.new("RGBA", (cell * len(samples), cell * len(sizes) * 2), (0, 0, 0, 255))
    for row, background in enumerate(((236, 236, 236, 255), (40, 40, 40, 255))):
        for band, size in enumerate(sizes):
            top = (row * len(sizes) + band) * cell
            for column, (kind, progress, badge) in enumerate(samples):
                tile = Image.new("RGBA", (cell, cell), background)
                tile.alpha_composite(draw(kind, progress, badge, size), ((cell - size) // 2, (cell - size) // 2))
                out.paste(tile, (column * cell, top))
    return out
