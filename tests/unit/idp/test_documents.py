"""Loading within limits: images, PDFs with and without a text layer, unsupported and oversized files."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from inferstack.core.errors import InvalidRequestError, PayloadTooLargeError
from inferstack.idp.documents import LoadLimits, load_document
from tests.support.idp_documents import pdf_image_only, pdf_text_layer


def _png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "white").save(buffer, format="PNG")
    return buffer.getvalue()


def test_pdf_text_layer_is_used_and_scans_are_rendered() -> None:
    kind, pages = load_document(pdf_text_layer().data, LoadLimits())
    assert kind == "pdf" and len(pages) == 2
    assert all(page.text_layer and page.image is None for page in pages)
    assert "Amelia Rose Carter" in (pages[0].text_layer or "")
    kind, pages = load_document(pdf_image_only().data, LoadLimits(render_dpi=100))
    assert len(pages) == 2 and all(page.image is not None and page.text_layer is None for page in pages)


def test_limits_and_unsupported_types() -> None:
    with pytest.raises(PayloadTooLargeError):
        load_document(_png((50, 50)), LoadLimits(max_file_bytes=10))
    with pytest.raises(InvalidRequestError, match="unsupported document type"):
        load_document(b"GIF89a....", LoadLimits())
    with pytest.raises(InvalidRequestError, match="empty"):
        load_document(b"", LoadLimits())
    with pytest.raises(InvalidRequestError, match="exceeds the limit"):
        load_document(_png((400, 400)), LoadLimits(max_pixels=100_000))
    with pytest.raises(InvalidRequestError, match="pages; the limit is 1"):
        load_document(pdf_text_layer().data, LoadLimits(max_pages=1))
    with pytest.raises(InvalidRequestError, match="cannot be read"):
        load_document(b"\x89PNG\r\n\x1a\nbroken", LoadLimits())
