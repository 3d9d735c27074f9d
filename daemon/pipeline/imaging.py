"""Open, verify and reduce images once: the oriented reduced RGB copy every later stage works from.

Formats Pillow cannot read (or plugins that are missing) become a clear PermanentError.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

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
        raise PermanentError(f"corrupt image header: {exc}") from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise PermanentError(f"image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise PermanentError(
            f"image of {width}x{height} exceeds engine.max_image_pixels={max_pixels} (decompression bomb guard)"
        )
    return image


def reduce(image: Image.Image, size: int) -> Image.Image:
    """Decode at reduced size (JPEG DCT scaling via draft), verify the whole stream, orient, make RGB."""
    try:
        if image.format == "JPEG":
            image.draft("RGB", (size, size))
        image.load()
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)
        oriented = ImageOps.exif_transpose(image)
        if oriented.mode not in ("RGB",):
            oriented = _to_rgb(oriented)
        if max(oriented.size) > 2 * size:
            oriented.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
        return oriented
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise PermanentError(f"cannot decode image: {exc}") from None


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        background = Image.new("RGB", image.size, (255, 255, 255))
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return image.point(lambda value: value / 256).convert("L").convert("RGB")
    return image.convert("RGB")


def save_reduced(image: Image.Image, path: Path) -> None:
    """Cache the reduced copy for stages in other workers; written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    image.save(temporary, "JPEG", quality=92)
    temporary.replace(path)
