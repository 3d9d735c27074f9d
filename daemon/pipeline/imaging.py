"""Open, verify and reduce images once: the oriented reduced RGB copy every later stage works from.

Formats Pillow cannot read (or plugins that are missing) become a clear PermanentError.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from daemon.errors import PermanentError

try:
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:
    HEIF_SUPPORTED = False

# open_image checks the pixel count against engine.max_image_pixels before any decode, with a message
# that names the size; Pillow's own global check would fire first with a vaguer one.
Image.MAX_IMAGE_PIXELS = None

SUPPORTED_SUFFIXES = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".png",
        ".webp",
        ".tif",
        ".tiff",
        ".gif",
        ".bmp",
        ".heic",
        ".heif",
        ".avif",
    }
)


def open_image(data: bytes, path: Path, max_pixels: int) -> Image.Image:
    """Identify the image and refuse oversized ones before decoding a single pixel."""
    if not data:
        raise PermanentError("empty file (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        suffix = path.suffix.lower()
        if suffix in {".heic", ".heif", ".avif"} and not HEIF_SUPPORTED:
            raise PermanentError(f"unsupported format {suffix}: install pillow-heif to read it") from None
        raise PermanentError("not an image Pillow can read (unknown or corrupt format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise PermanentError(_explain("corrupt image header", exc)) from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise PermanentError(f"image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise PermanentError(
            f"image of {width}x{height} exceeds engine.max_image_pixels={max_pixels} (decompression bomb guard)"
        )
    return image


ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def reduce(image: Image.Image, size: int, orientation: int | None) -> Image.Image:
    """Decode at reduced size (JPEG DCT scaling via draft), verify the whole stream, orient, make RGB.

    `orientation` is the EXIF value probe already read (re-parsing EXIF here would cost more than it says).
    """
    try:
        if image.format == "JPEG":
            image.draft("RGB", draft_box(image.size, size))
        image.load()
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)
        reduced: Image.Image = image if image.mode == "RGB" else _to_rgb(image)
        factor = max(reduced.size) // size
        if factor > 1:
            reduced = reduced.reduce(factor)
        if orientation in ORIENTATION_TRANSPOSE:
            reduced = reduced.transpose(ORIENTATION_TRANSPOSE[orientation])
        return reduced
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise PermanentError(_explain("cannot decode image", exc)) from None


def draft_box(full: tuple[int, int], size: int) -> tuple[int, int]:
    """The box draft() must cover so the longest side ends >= size: JPEG DCT scaling then decodes up to 8x smaller."""
    width, height = full
    if width >= height:
        return size, max(1, size * height // max(width, 1))
    return max(1, size * width // max(height, 1)), size


def _explain(what: str, exc: BaseException) -> str:
    if "truncated" in str(exc).lower():
        return f"truncated file: the image data ends early (an incomplete copy or download?) ({exc})"
    return f"{what}: {exc}"


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        background = Image.new("RGB", image.size, (255, 255, 255))
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return image.point(lambda value: value / 256).convert("L").convert("RGB")
    return image.convert("RGB")
