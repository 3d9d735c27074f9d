"""The analyzer interface: what an analyzer receives (reduced image, EXIF facts, earlier results) and returns.

Built-ins (OCR, quality, sensitive) implement it; the `analyze` stage (daemon/pipeline/analyze.py) runs every enabled analyzer per photo.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image


@dataclass
class Photo:
    """One photo as an analyzer sees it."""

    path: Path
    reduced: Callable[[], Image.Image]  # probe's oriented RGB copy (a few hundred pixels)
    larger: Callable[[int], Image.Image]  # an oriented RGB copy of about N pixels on its longest side (N..2N)
    facts: dict[str, Any]  # probe's result: format, size, taken, camera, GPS
    results: Callable[[str], dict[str, Any]]  # an earlier stage's result ({} when it has none)


@dataclass
class Region:
    """A part of the image with what was found there: text, or a label."""

    box: list[list[int]]  # four corners, in the pixels of an oriented copy of `Findings.width` x `height`
    text: str = ""
    label: str = ""
    confidence: float = 0.0


@dataclass
class Findings:
    """What an analyzer found: keywords with scores, named fields, text, regions. A numeric `fields["score"]` is
    stored as the photo's score for this analyzer (table photo_scores; quality's is `search --min-quality`)."""

    keywords: list[dict[str, Any]] = field(default_factory=list)  # {"keyword", "score", "hierarchy"}
    fields: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    regions: list[Region] = field(default_factory=list)
    width: int = 0  # the scale of the regions' boxes
    height: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "keywords": self.keywords,
            "fields": self.fields,
            "text": self.text,
            "regions": [vars(region) for region in self.regions],
            "width": self.width,
            "height": self.height,
        }


class Analyzer:
    """Override `analyze`; declare the model, the device it runs on and how many photos it takes at once."""

    name: str = ""
    model: str = ""
    device: str = "cpu"
    batch_size: int = 1
    heavy: bool = True  # runs a model: waits out GPU yield, battery and work hours (numpy-cheap ones say False)

    def available(self) -> str | None:
        """None when it can run, else what is missing and how to get it (its photos wait meanwhile)."""
        return None

    def analyze(self, photo: Photo) -> Findings:
        raise NotImplementedError

    def close(self) -> None:
        """Release the model."""
