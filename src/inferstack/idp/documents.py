"""The `load` stage: bytes to pages. PNG/JPEG/TIFF images, and PDFs (text layer when present, else rendered).

Limits (file size, pages, pixels) are checked before any work; a refused document raises `InvalidRequestError`
or `PayloadTooLargeError`, so the service answers 4xx and stores nothing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageSequence, UnidentifiedImageError

from inferstack.core.errors import InvalidRequestError, PayloadTooLargeError
from inferstack.idp.records import Page

_MAGIC = {
    b"%PDF-": "pdf",
    b"\x89PNG\r\n\x1a\n": "png",
    b"\xff\xd8\xff": "jpeg",
    b"II*\x00": "tiff",
    b"MM\x00*": "tiff",
}
SUPPORTED = ("pdf", "png", "jpeg", "tiff")
# A text layer shorter than this (after stripping) counts as none: scanned PDFs often carry a few stray glyphs.
MIN_TEXT_LAYER_CHARS = 20


@dataclass(frozen=True)
class LoadLimits:
    max_file_bytes: int = 20 * 1024 * 1024
    max_pages: int = 20
    max_pixels: int = 40_000_000
    render_dpi: int = 200


def sniff(data: bytes) -> str:
    """The document kind from its first bytes (never from the file name or the client's content type)."""
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            return kind
    raise InvalidRequestError(
        f"unsupported document type: expected one of {', '.join(SUPPORTED)}", param="file", code="unsupported_file"
    )


def check_size(size: int, limits: LoadLimits) -> None:
    if size > limits.max_file_bytes:
        raise PayloadTooLargeError(f"document is {size} bytes; the limit is {limits.max_file_bytes} bytes")
    if size == 0:
        raise InvalidRequestError("document is empty", param="file", code="empty_file")


def load_document(data: bytes, limits: LoadLimits) -> tuple[str, list[Page]]:
    check_size(len(data), limits)
    kind = sniff(data)
    pages = _load_pdf(data, limits) if kind == "pdf" else _load_image(data, limits)
    return kind, pages


def _check_pages(count: int, limits: LoadLimits) -> None:
    if count > limits.max_pages:
        raise InvalidRequestError(
            f"document has {count} pages; the limit is {limits.max_pages}", param="file", code="too_many_pages"
        )


def _check_pixels(image: Image.Image, limits: LoadLimits) -> None:
    width, height = image.size
    if width * height > limits.max_pixels:
        raise InvalidRequestError(
            f"page of {width}x{height} pixels exceeds the limit of {limits.max_pixels}", param="file"
        )


def _load_image(data: bytes, limits: LoadLimits) -> list[Page]:
    try:
        image = Image.open(io.BytesIO(data))
        frames = getattr(image, "n_frames", 1)
        _check_pages(frames, limits)
        pages = []
        for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
            _check_pixels(frame, limits)
            pages.append(Page(number=number, image=frame.convert("RGB")))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise InvalidRequestError(f"the image cannot be read: {exc}", param="file", code="unreadable_file") from exc
    return pages


def _load_pdf(data: bytes, limits: LoadLimits) -> list[Page]:
    import pypdfium2  # type: ignore[import-untyped]

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise InvalidRequestError(f"the PDF cannot be read: {exc}", param="file", code="unreadable_file") from exc
    try:
        _check_pages(len(pdf), limits)
        pages = []
        for index in range(len(pdf)):
            page = pdf[index]
            text = page.get_textpage().get_text_range().replace("\r\n", "\n").strip()
            if len(text) >= MIN_TEXT_LAYER_CHARS:
                pages.append(Page(number=index + 1, text_layer=text))
                continue
            image = page.render(scale=limits.render_dpi / 72).to_pil().convert("RGB")
            _check_pixels(image, limits)
            pages.append(Page(number=index + 1, image=image))
        return pages
    finally:
        pdf.close()
