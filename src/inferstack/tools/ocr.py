"""OCR on CPU with rapidocr (its ONNX models ship in the wheel): per-line text, box and confidence.

The only module that imports rapidocr; used by the IDP pipeline and the model server's OCR image input.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image

from inferstack.core.extras import imports_of_extra


@dataclass(frozen=True)
class OcrLine:
    """A line of text as read: page, text, bounding box (x0, y0, x1, y1 in pixels; empty for text layers)."""

    page: int
    text: str
    confidence: float
    box: tuple[float, float, float, float] | None = None
    source: str = "ocr"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RapidOcrReader:
    """Reads page images line by line. The engine loads once, on first use; calls are serialised (one engine)."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._engine is not None

    def warm(self) -> None:
        """Load the models now (the service does this at start so its first document is not slower)."""
        with self._lock:
            self._load()

    def _load(self) -> Any:
        if self._engine is None:
            with imports_of_extra("idp"):
                from rapidocr import RapidOCR
            self._engine = RapidOCR()
            # rapidocr logs every model path at INFO on its own logger; ours stays quiet.
            logging.getLogger("RapidOCR").setLevel(logging.WARNING)
        return self._engine

    def read(self, image: Image.Image, page: int) -> list[OcrLine]:
        with self._lock:
            output = self._load()(np.asarray(image.convert("RGB")))
        if output.txts is None or output.boxes is None or output.scores is None:
            return []
        lines = []
        for text, box, score in zip(output.txts, output.boxes, output.scores, strict=True):
            xs = [float(point[0]) for point in box]
            ys = [float(point[1]) for point in box]
            lines.append(
                OcrLine(page=page, text=str(text), confidence=float(score), box=(min(xs), min(ys), max(xs), max(ys)))
            )
        lines.sort(key=lambda line: ((line.box or (0, 0, 0, 0))[1], (line.box or (0, 0, 0, 0))[0]))
        return _merge_rows(lines)


def _merge_rows(lines: list[OcrLine]) -> list[OcrLine]:
    """Join boxes the detector split on one visual row (a label and its value far apart) into one line."""
    merged: list[OcrLine] = []
    for line in lines:
        last = merged[-1] if merged else None
        if last is not None and last.box is not None and line.box is not None and _same_row(last.box, line.box):
            box = (
                min(last.box[0], line.box[0]),
                min(last.box[1], line.box[1]),
                max(last.box[2], line.box[2]),
                max(last.box[3], line.box[3]),
            )
            left, right = (last, line) if last.box[0] <= line.box[0] else (line, last)
            merged[-1] = OcrLine(
                page=line.page,
                text=f"{left.text} {right.text}",
                confidence=min(last.confidence, line.confidence),
                box=box,
            )
        else:
            merged.append(line)
    return merged


def _same_row(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    return overlap > 0.6 * min(a[3] - a[1], b[3] - b[1])
