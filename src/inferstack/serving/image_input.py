"""OpenAI `image_url` content parts for a text-only engine: the OCR adapter (`serve.image_input: ocr`).

This is OCR, not vision: each image (a `data:image/...;base64,` URL; the server fetches nothing) is read with
rapidocr and its lines replace the image part, in front of the message's text. Without the adapter a text-only
engine answers 400 (serving/chat_prompt.py).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io

from inferstack.core.errors import InvalidRequestError
from inferstack.core.extras import imports_of_extra
from inferstack.openai_api.chat import ChatMessage, ContentPart, ImageUrlPart, TextPart, UserMessage

# Pillow (also imported by tools.ocr) comes with the serve extra: without it `inferstack serve` names the extra.
with imports_of_extra("serve"):
    from PIL import Image, UnidentifiedImageError

    from inferstack.tools.ocr import RapidOcrReader

MAX_IMAGES_PER_REQUEST = 4
MAX_IMAGE_PIXELS = 25_000_000


class OcrImageInput:
    def __init__(self, reader: RapidOcrReader | None = None) -> None:
        self.reader = reader or RapidOcrReader()

    async def to_text(self, messages: list[ChatMessage]) -> list[ChatMessage]:
        """The messages with every image part replaced by the text OCR read from it."""
        count = 0
        result: list[ChatMessage] = []
        for index, message in enumerate(messages):
            if not isinstance(message, UserMessage) or isinstance(message.content, str):
                result.append(message)
                continue
            images = [part for part in message.content if isinstance(part, ImageUrlPart)]
            if not images:
                result.append(message)
                continue
            count += len(images)
            if count > MAX_IMAGES_PER_REQUEST:
                raise InvalidRequestError(f"at most {MAX_IMAGES_PER_REQUEST} images per request", param="messages")
            read: list[ContentPart] = []
            for number, part in enumerate(images, start=1):
                image = decode_image(part, param=f"messages.{index}.content")
                lines = await asyncio.to_thread(self.reader.read, image, number)
                text = "\n".join(line.text for line in lines) or "(no text found)"
                read.append(
                    TextPart(type="text", text=f"[Text read by OCR from image {number}]\n{text}\n[End of image]\n")
                )
            texts = [part for part in message.content if isinstance(part, TextPart)]
            result.append(message.model_copy(update={"content": [*read, *texts]}))
        return result


def decode_image(part: ImageUrlPart, *, param: str) -> Image.Image:
    url = part.image_url.get("url")
    if not isinstance(url, str) or not url.startswith("data:image/") or ";base64," not in url:
        raise InvalidRequestError(
            "image_url must be a data:image/...;base64, URL (this server does not fetch remote images)", param=param
        )
    try:
        data = base64.b64decode(url.split(";base64,", 1)[1], validate=True)
        image = Image.open(io.BytesIO(data))
        if image.size[0] * image.size[1] > MAX_IMAGE_PIXELS:
            raise InvalidRequestError(f"image exceeds {MAX_IMAGE_PIXELS} pixels", param=param)
        return image.convert("RGB")
    except (binascii.Error, UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise InvalidRequestError(
            f"image_url does not hold a readable image: {type(exc).__name__}", param=param
        ) from exc
