"""The OCR analyzer: detect text regions on the reduced copy; read them from a larger copy only when there are some.

A photo without text costs one small detection; the text, its line boxes and confidences are the findings.
"""

from __future__ import annotations

from daemon.analyzers import Analyzer, Findings, Photo, Region
from daemon.config import OcrConfig
from daemon.ml import ocr


class OcrAnalyzer(Analyzer):
    name = "ocr"

    def __init__(self, config: OcrConfig):
        self.config = config
        self.model = ocr.model_name()
        self.reader = ocr.TextReader()

    def available(self) -> str | None:
        return ocr.available()

    def analyze(self, photo: Photo) -> Findings:
        regions = self.reader.has_text(photo.reduced())
        if not regions:
            return Findings(fields={"regions_detected": 0})
        image = photo.larger(self.config.read_size)
        lines = self.reader.read(image, self.config.min_confidence)
        return Findings(
            fields={"regions_detected": regions, "lines": len(lines)},
            text="\n".join(line.text for line in lines),
            regions=[Region(box=line.box, text=line.text, confidence=line.confidence) for line in lines],
            width=image.width,
            height=image.height,
        )

    def close(self) -> None:
        self.reader.close()
