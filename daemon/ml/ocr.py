"""Text in images with RapidOCR (PP-OCR ONNX models inside the `rapidocr` wheel, run by onnxruntime).

Two steps: `has_text` runs only the detector on a small copy (224 px, a page 320 px; never upscaled), and `read`
(detection, orientation, recognition on a larger copy) runs only when the first step found something.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from daemon.ml.base import ModelMissing

if TYPE_CHECKING:
    from PIL import Image

# Longest side the detector sees for the "any text here?" step (probe's copy is 384): 224 px finds the signs, slides
# and screenshots of the corpus (a third of the cost of 320 px); a page (grey, mostly white) is looked at again at
# PAGE_GATE_SIZE when nothing was found, as a dense scan's small print shows only there.
GATE_SIZE, PAGE_GATE_SIZE = 224, 320
PAGE_MAX_SATURATION, PAGE_MIN_MEDIAN = 0.15, 150
CROP_SIDE, CROP_MARGIN = 200, 40  # an image with a shorter side than CROP_SIDE is read inside a margin
INSTALL_HINT = "install the ocr extra: pip install 'image-engine[ocr]' (rapidocr; onnxruntime comes with cpu or gpu)"


@dataclass(frozen=True)
class TextLine:
    text: str
    confidence: float
    box: list[list[int]]  # four corners, clockwise from top-left, in the pixels of the image given to `read`


def model_name() -> str:
    return "rapidocr:PP-OCRv6-small"


def available() -> str | None:
    """None when the OCR packages import, else what to install."""
    import importlib.util

    for module in ("rapidocr", "onnxruntime"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed; {INSTALL_HINT}"
    return None


class TextReader:
    """Lazily built RapidOCR engines (one for the detection gate, one for reading), used under one lock."""

    def __init__(self, gate_size: int = GATE_SIZE, threads: int = 0):
        self.gate_size = gate_size
        self.threads = threads  # for reading; 0 = onnxruntime's choice (all cores)
        self._lock = threading.Lock()
        self._gate: Any = None
        self._page_gate: Any = None
        self._reader: Any = None

    def _engines(self) -> tuple[Any, Any]:
        if self._reader is None:
            missing = available()
            if missing:
                raise ModelMissing(missing)
            from rapidocr import RapidOCR

            quiet = {"Global.log_level": "error"}
            # The gate never upscales (text big enough to matter shows at this size) and uses one thread: on a
            # photo without text it is all the cost, and a second thread mostly spins (twice the CPU, same time).
            self._gate, self._page_gate = (
                RapidOCR(
                    params={
                        **quiet,
                        "Det.limit_side_len": size,
                        "Det.limit_type": "max",
                        "EngineConfig.onnxruntime.intra_op_num_threads": 1,
                    }
                )
                for size in (self.gate_size, PAGE_GATE_SIZE)
            )
            self._reader = RapidOCR(
                params={**quiet, "EngineConfig.onnxruntime.intra_op_num_threads": self.threads or -1}
            )
        return self._gate, self._reader

    def has_text(self, image: Image.Image) -> int:
        """How many text regions the detector sees in `image` (an RGB copy, e.g. probe's reduced one)."""
        with self._lock:
            gate, _ = self._engines()
            found = gate(_bgr(image), use_det=True, use_cls=False, use_rec=False)
            if found.boxes is None and _looks_like_a_page(image):
                found = self._page_gate(_bgr(image), use_det=True, use_cls=False, use_rec=False)
        return 0 if found.boxes is None else len(found.boxes)

    def read(self, image: Image.Image, min_confidence: float) -> list[TextLine]:
        """The lines of text in `image`, in reading order, those below `min_confidence` dropped."""
        # A tight crop (one line of text filling the picture) gives the detector no edge to find: a margin does.
        margin = CROP_MARGIN if min(image.size) < CROP_SIDE else 0
        with self._lock:
            _, reader = self._engines()
            bgr = _bgr(_with_margin(image, margin))
            readings = {0: _read_lines(reader, bgr)}
            # A page upside down or on its side: read it turned too, and keep the reading that looks best (_weighed).
            found, upside_down = readings[0]
            if upside_down:
                readings[180] = _read_lines(reader, np.ascontiguousarray(np.rot90(bgr, 2)))
            if _mostly_tall(found):
                readings[90] = _read_lines(reader, np.ascontiguousarray(np.rot90(bgr, 1)))
                readings[270] = _read_lines(reader, np.ascontiguousarray(np.rot90(bgr, -1)))
            turn = max(readings, key=lambda angle: _weighed(*readings[angle]))
            found = readings[turn][0]
        if not found.txts:
            return []
        width, height = image.width + 2 * margin, image.height + 2 * margin
        lines = []
        for text, score, box in zip(found.txts, found.scores, found.boxes, strict=True):
            text = " ".join(str(text).split())
            if text and float(score) >= min_confidence and any(ch.isalnum() for ch in text):
                corners = [
                    [min(max(x - margin, 0), image.width - 1), min(max(y - margin, 0), image.height - 1)]
                    for x, y in (_unturn(int(x), int(y), turn, width, height) for x, y in box)
                ]
                lines.append(TextLine(text, round(float(score), 4), corners))
        return lines

    def read_whole(self, image: Image.Image) -> str:
        """Recognition on the whole image without detection: the naive way, for bench/ocr.py."""
        with self._lock:
            _, reader = self._engines()
            found = reader(_bgr(image), use_det=False, use_cls=False, use_rec=True)
        return " ".join(str(text) for text in (found.txts or ()))

    def close(self) -> None:
        with self._lock:
            self._gate = self._page_gate = self._reader = None


def _read_lines(reader: Any, bgr: Any) -> tuple[Any, bool]:
    """RapidOCR's own steps, keeping what its orientation classifier said of each line: (output, upside down), the
    latter when it turned most lines 180 degrees (each line then reads right, but the page's order is reversed)."""
    reader.update_params(
        use_det=True,
        use_cls=True,
        use_rec=True,
        return_word_box=None,
        return_single_char_box=None,
        text_score=None,
        box_thresh=None,
        unclip_ratio=None,
    )
    original = reader.load_img(bgr)
    prepared, record = reader.preprocess_img(original)
    detected, classified, recognised, crops = reader.run_ocr_steps(prepared, record)
    found = reader.build_final_output(original, detected, classified, recognised, crops, record)
    turns = [label for label, _score in (getattr(classified, "cls_res", None) or [])]
    return found, bool(turns) and sum(label == "180" for label in turns) > len(turns) / 2


def _mostly_tall(found: Any) -> bool:
    """Most text boxes taller than wide: a page on its side (or vertical CJK, which then reads surest unturned)."""
    boxes = [] if found.boxes is None else list(found.boxes)
    tall = 0
    for box in boxes:
        xs, ys = [point[0] for point in box], [point[1] for point in box]
        tall += (max(ys) - min(ys)) > 1.5 * (max(xs) - min(xs))
    return bool(boxes) and tall > len(boxes) / 2


def _unturn(x: int, y: int, turn: int, width: int, height: int) -> list[int]:
    """A point found in the image turned counter-clockwise by `turn` degrees, in the unturned image's pixels."""
    if turn == 90:
        return [width - 1 - y, x]
    if turn == 180:
        return [width - 1 - x, height - 1 - y]
    if turn == 270:
        return [y, height - 1 - x]
    return [x, y]


def _weighed(found: Any, upside_down: bool) -> float:
    """How good a reading of the page looks: sureness, halved when its lines had to be turned round or stand tall."""
    return _sureness(found) / (2 if upside_down else 1) / (2 if _mostly_tall(found) else 1)


def _sureness(found: Any) -> float:
    """Confidence-weighted characters read: the better of two readings of one page has more of them."""
    return sum(len(str(text)) * float(score) for text, score in zip(found.txts or (), found.scores or (), strict=True))


def _looks_like_a_page(image: Image.Image) -> bool:
    """Grey and mostly light: a scanned or photographed page, whose small print the small gate can miss."""
    hsv = np.asarray(image.convert("HSV"), dtype=np.float32)
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    return float(hsv[:, :, 1].mean()) / 255 < PAGE_MAX_SATURATION and float(np.median(grey)) > PAGE_MIN_MEDIAN


def _with_margin(image: Image.Image, margin: int) -> Image.Image:
    """`image` inside a border of `margin` pixels in the colour of its own edge (no new contrast to detect)."""
    if not margin:
        return image
    from PIL import ImageOps

    rgb = np.asarray(image.convert("RGB"))
    edge = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    colour = tuple(int(value) for value in np.median(edge, axis=0))
    return ImageOps.expand(image.convert("RGB"), border=margin, fill=colour)


def _bgr(image: Image.Image) -> Any:
    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
