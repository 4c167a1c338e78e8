"""The `read` stage: pages to lines of text. `ocr` (rapidocr on CPU, the default), `vision` (a vision model
through the gateway, for GPU deployments), or `both` (OCR lines first, then the vision model's lines that OCR did
not produce: a line both readers read stands once, as the OCR line with its box, so labelled lines are not doubled).

PDF text layers are taken as they are (confidence 1.0); no reader runs on such a page.
"""

from __future__ import annotations

import asyncio

from inferstack.core.errors import InvalidRequestError
from inferstack.idp.model_client import ModelClient
from inferstack.idp.records import Page
from inferstack.idp.settings import ReaderName
from inferstack.tools.ocr import OcrLine, RapidOcrReader

# A vision model reports no per-line confidence; its lines count as this (below clean OCR, above a poor scan).
VISION_LINE_CONFIDENCE = 0.8


async def read_pages(
    pages: list[Page],
    *,
    reader: ReaderName,
    ocr: RapidOcrReader,
    model: ModelClient | None,
    vision_model: str | None,
) -> list[OcrLine]:
    if reader in ("vision", "both") and (model is None or not vision_model):
        raise InvalidRequestError("the vision reader needs idp.vision_model (a model that accepts image_url parts)")
    lines: list[OcrLine] = []
    for page in pages:
        if page.text_layer is not None:
            lines.extend(
                OcrLine(page=page.number, text=text.strip(), confidence=1.0, source="text_layer")
                for text in page.text_layer.splitlines()
                if text.strip()
            )
            continue
        if page.image is None:
            continue
        read: list[OcrLine] = []
        if reader in ("ocr", "both"):
            read.extend(await asyncio.to_thread(ocr.read, page.image, page.number))
        if reader in ("vision", "both") and model is not None and vision_model:
            text = await model.transcribe(vision_model, page.image)
            by_ocr = {_same_text(line.text) for line in read}
            for row in text.splitlines():
                if row.strip() and _same_text(row) not in by_ocr:
                    read.append(
                        OcrLine(page=page.number, text=row.strip(), confidence=VISION_LINE_CONFIDENCE, source="vision")
                    )
        lines.extend(read)
    return lines


def _same_text(text: str) -> str:
    """A line's text as compared across readers: case and runs of whitespace do not count."""
    return " ".join(text.split()).casefold()
