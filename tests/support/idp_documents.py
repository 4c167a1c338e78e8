"""Synthetic documents with known ground truth for the IDP tests and benchmark: drawn with Pillow and DejaVu Sans
(fixed seeds, so every run draws the same pixels). `python -m tests.support.idp_documents OUT_DIR` writes them.
"""

from __future__ import annotations

import ctypes
import io
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)
BOLD_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
)


@dataclass(frozen=True)
class SyntheticDocument:
    name: str
    schema: str
    filename: str
    data: bytes
    truth: dict[str, Any]
    pages: int
    expect_status: str  # what the pipeline should decide


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    for path in BOLD_PATHS if bold else FONT_PATHS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    raise FileNotFoundError("DejaVu Sans is missing: apt-get install fonts-dejavu-core")


def _page(title: str, lines: list[str], *, seed: int, size: tuple[int, int] = (1240, 900)) -> Image.Image:
    rng = random.Random(seed)
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, size[0] - 20, size[1] - 20), outline="black", width=3)
    draw.text((80, 60), title, font=_font(40, bold=True), fill="black")
    body = _font(30)
    y = 160
    for line in lines:
        draw.text((80 + rng.randint(0, 6), y), line, font=body, fill="black")
        y += 62
    return image


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _degrade(image: Image.Image, *, seed: int, angle: float) -> Image.Image:
    """A poor scan: rotated, blurred, speckled, grey, JPEG-compressed."""
    rng = random.Random(seed)
    rotated = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor="white")
    blurred = rotated.filter(ImageFilter.GaussianBlur(0.8)).convert("L")
    pixels = blurred.load()
    assert pixels is not None
    width, height = blurred.size
    for _ in range(width * height // 400):
        x, y = rng.randrange(width), rng.randrange(height)
        pixels[x, y] = rng.choice((90, 160, 200))
    buffer = io.BytesIO()
    blurred.convert("RGB").save(buffer, format="JPEG", quality=45)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _certificate_lines(truth: dict[str, Any]) -> list[str]:
    return [
        f"Registration number: {truth['registration_number']}",
        f"Full name: {truth['full_name']}",
        f"Date of birth: {truth['date_of_birth']}",
        f"Place of birth: {truth['place_of_birth']}",
        f"Mother: {truth['parents'][0]}",
        f"Father: {truth['parents'][1]}",
    ]


CLEAN_CERTIFICATE = {
    "full_name": "Amelia Rose Carter",
    "date_of_birth": "2019-03-14",
    "place_of_birth": "Royal North Shore Hospital",
    "registration_number": "NSW-2019-048213",
    "parents": ["Grace Carter", "James Carter"],
}
SCANNED_CERTIFICATE = {
    "full_name": "Oliver James Nguyen",
    "date_of_birth": "2021-07-02",
    "place_of_birth": "Westmead Hospital",
    "registration_number": "NSW-2021-113507",
    "parents": ["Linh Nguyen", "Daniel Nguyen"],
}
UNKNOWN_FACILITY_CERTIFICATE = {
    "full_name": "Sophie Anne Martin",
    "date_of_birth": "2020-11-23",
    "place_of_birth": "Lakeside Private Clinic",
    "registration_number": "NSW-2020-097741",
    "parents": ["Claire Martin", "Paul Martin"],
}
INVOICE_ITEMS: list[dict[str, Any]] = [
    {"description": "Printer paper", "quantity": 4.0, "unit_price": 12.5, "amount": 50.0},
    {"description": "Toner cartridge", "quantity": 2.0, "unit_price": 64.0, "amount": 128.0},
]
INVOICE: dict[str, Any] = {
    "invoice_number": "INV-20431",
    "invoice_date": "2026-05-18",
    "vendor_name": "Harbour Office Supplies",
    "customer_name": "Northside Dental Clinic",
    "items": INVOICE_ITEMS,
    "subtotal": 178.0,
    "tax": 17.8,
    "total": 195.8,
}


def clean_certificate() -> SyntheticDocument:
    image = _page("CERTIFICATE OF BIRTH", _certificate_lines(CLEAN_CERTIFICATE), seed=1)
    return SyntheticDocument(
        "clean_certificate",
        "birth_certificate",
        "clean_certificate.png",
        _png(image),
        CLEAN_CERTIFICATE,
        1,
        "auto_approved",
    )


def scanned_certificate() -> SyntheticDocument:
    image = _degrade(_page("CERTIFICATE OF BIRTH", _certificate_lines(SCANNED_CERTIFICATE), seed=2), seed=2, angle=2.5)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=60)
    return SyntheticDocument(
        "scanned_certificate",
        "birth_certificate",
        "scanned_certificate.jpg",
        buffer.getvalue(),
        SCANNED_CERTIFICATE,
        1,
        "auto_approved",
    )


def unknown_facility_certificate() -> SyntheticDocument:
    image = _page("CERTIFICATE OF BIRTH", _certificate_lines(UNKNOWN_FACILITY_CERTIFICATE), seed=3)
    return SyntheticDocument(
        "unknown_facility",
        "birth_certificate",
        "unknown_facility.png",
        _png(image),
        UNKNOWN_FACILITY_CERTIFICATE,
        1,
        "needs_review",
    )


def _invoice_lines() -> list[str]:
    lines = [
        f"Invoice number: {INVOICE['invoice_number']}",
        f"Invoice date: {INVOICE['invoice_date']}",
        f"Vendor: {INVOICE['vendor_name']}",
        f"Customer: {INVOICE['customer_name']}",
    ]
    for item in INVOICE_ITEMS:
        lines.append(f"{item['description']} {int(item['quantity'])} x {item['unit_price']:.2f} = {item['amount']:.2f}")
    lines += [f"Subtotal: {INVOICE['subtotal']:.2f}", f"Tax: {INVOICE['tax']:.2f}", f"Total: {INVOICE['total']:.2f}"]
    return lines


def invoice() -> SyntheticDocument:
    image = _page("TAX INVOICE", _invoice_lines(), seed=4)
    return SyntheticDocument("invoice", "invoice", "invoice.png", _png(image), INVOICE, 1, "auto_approved")


def _two_page_images() -> list[Image.Image]:
    lines = _certificate_lines(CLEAN_CERTIFICATE)
    first = _page("CERTIFICATE OF BIRTH", lines[:3], seed=5)
    second = _page("CERTIFICATE OF BIRTH (continued)", lines[3:], seed=6)
    return [first, second]


def pdf_image_only() -> SyntheticDocument:
    """A two-page PDF of scanned pages: no text layer, so every page is rendered and read by OCR."""
    first, second = _two_page_images()
    buffer = io.BytesIO()
    first.save(buffer, format="PDF", save_all=True, append_images=[second], resolution=150.0)
    return SyntheticDocument(
        "pdf_image_only",
        "birth_certificate",
        "certificate_scan.pdf",
        buffer.getvalue(),
        CLEAN_CERTIFICATE,
        2,
        "auto_approved",
    )


def pdf_text_layer() -> SyntheticDocument:
    """The same two pages as a PDF with a text layer (written with pypdfium2's standard font)."""
    import pypdfium2  # type: ignore[import-untyped]
    import pypdfium2.raw as pdfium_c  # type: ignore[import-untyped]

    lines = _certificate_lines(CLEAN_CERTIFICATE)
    pdf = pypdfium2.PdfDocument.new()
    font = pdfium_c.FPDFText_LoadStandardFont(pdf.raw, b"Helvetica")
    for page_lines in (["CERTIFICATE OF BIRTH", *lines[:3]], ["CERTIFICATE OF BIRTH (continued)", *lines[3:]]):
        page = pdf.new_page(595, 842)
        y = 780
        for text in page_lines:
            obj = pdfium_c.FPDFPageObj_NewTextObj(pdf.raw, b"Helvetica", 14.0)
            encoded = (text + "\x00").encode("utf-16-le")
            buffer16 = ctypes.create_string_buffer(encoded)
            pdfium_c.FPDFText_SetText(obj, ctypes.cast(buffer16, ctypes.POINTER(ctypes.c_ushort)))
            pdfium_c.FPDFPageObj_Transform(obj, 1, 0, 0, 1, 60, y)
            pdfium_c.FPDFPage_InsertObject(page.raw, obj)
            y -= 30
        pdfium_c.FPDFPage_GenerateContent(page.raw)
    pdfium_c.FPDFFont_Close(font)
    buffer = io.BytesIO()
    pdf.save(buffer)
    return SyntheticDocument(
        "pdf_text_layer",
        "birth_certificate",
        "certificate.pdf",
        buffer.getvalue(),
        CLEAN_CERTIFICATE,
        2,
        "auto_approved",
    )


def all_documents() -> list[SyntheticDocument]:
    return [
        clean_certificate(),
        scanned_certificate(),
        unknown_facility_certificate(),
        invoice(),
        pdf_text_layer(),
        pdf_image_only(),
    ]


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "idp-documents")
    out.mkdir(parents=True, exist_ok=True)
    for document in all_documents():
        (out / document.filename).write_bytes(document.data)
        print(out / document.filename)
