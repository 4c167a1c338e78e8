"""The model server's OCR image input refuses what it cannot read, before any OCR runs."""

from __future__ import annotations

import asyncio
import base64

import pytest

from inferstack.core.errors import InvalidRequestError
from inferstack.openai_api.chat import ChatMessage, ImageUrlPart, SystemMessage, TextPart, UserMessage
from inferstack.serving.image_input import MAX_IMAGES_PER_REQUEST, OcrImageInput, decode_image
from inferstack.tools.ocr import OcrLine
from tests.support.idp_documents import clean_certificate


def _part(url: str) -> ImageUrlPart:
    return ImageUrlPart(type="image_url", image_url={"url": url})


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://example.com/a.png", "does not fetch remote images"),
        ("data:text/plain;base64,aGVsbG8=", "does not fetch remote images"),
        ("data:image/png;base64,!!!", "readable image"),
        ("data:image/png;base64," + base64.b64encode(b"not a png").decode(), "readable image"),
    ],
)
def test_unreadable_images_are_400(url: str, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        decode_image(_part(url), param="messages.0.content")


class FakeReader:
    """Stands in for rapidocr: reports the image size it was given."""

    def read(self, image: object, page: int) -> list[OcrLine]:
        size = getattr(image, "size", None)
        return [OcrLine(page=page, text=f"image {page} of size {size}", confidence=1.0)]


def test_images_become_text_in_front_of_the_question() -> None:
    url = "data:image/png;base64," + base64.b64encode(clean_certificate().data).decode()
    adapter = OcrImageInput(FakeReader())  # type: ignore[arg-type]
    messages: list[ChatMessage] = [
        SystemMessage(role="system", content="Be brief."),
        UserMessage(role="user", content=[TextPart(type="text", text="Who is named?"), _part(url)]),
    ]
    out = asyncio.run(adapter.to_text(messages))
    assert out[0] == messages[0]
    content = out[1].content
    assert isinstance(content, list) and [part.type for part in content] == ["text", "text"]
    first = content[0]
    assert isinstance(first, TextPart) and first.text.startswith(
        "[Text read by OCR from image 1]\nimage 1 of size (1240, 900)"
    )
    with pytest.raises(InvalidRequestError, match=f"at most {MAX_IMAGES_PER_REQUEST} images"):
        many: list[ChatMessage] = [UserMessage(role="user", content=[_part(url)] * (MAX_IMAGES_PER_REQUEST + 1))]
        asyncio.run(adapter.to_text(many))
