"""Field-level exact-match accuracy of the IDP extractors on the synthetic documents, and seconds per page.

Each document is read once (rapidocr, or its PDF text layer); then every extractor runs on the same lines:
`rules` (label: value lines), `model` (the constrained model call alone) and `hybrid` (rules, then the model
for empty fields). A field counts when it equals the ground truth exactly (lists and numbers included).

    .venv/bin/inferstack serve --port 8000 &      # or a gateway; any OpenAI base URL
    PYTHONPATH=. .venv/bin/python benchmarks/idp_accuracy.py --model-base-url http://127.0.0.1:8000/v1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from tests.support.idp_documents import all_documents

from inferstack.idp.document_types import load_type
from inferstack.idp.documents import LoadLimits, load_document
from inferstack.idp.extraction import extract
from inferstack.idp.model_client import ModelClient
from inferstack.idp.reading import read_pages
from inferstack.idp.settings import ExtractorName
from inferstack.tools.ocr import RapidOcrReader

EXTRACTORS: tuple[ExtractorName, ...] = ("rules", "model", "hybrid")


async def main(args: argparse.Namespace) -> dict[str, Any]:
    ocr = RapidOcrReader()
    ocr.warm()
    model = ModelClient(
        base_url=args.model_base_url, api_key=args.api_key, timeout_s=120, retries=1, max_tokens=args.max_tokens
    )
    report: dict[str, Any] = {"documents": [], "extractors": {}}
    totals = {name: [0, 0] for name in EXTRACTORS}
    pages_total, read_seconds = 0, 0.0
    try:
        for document in all_documents():
            doc = load_type(document.schema)
            started = time.perf_counter()
            _, pages = load_document(document.data, LoadLimits())
            lines = await read_pages(pages, reader="ocr", ocr=ocr, model=None, vision_model=None)
            seconds = time.perf_counter() - started
            if any(page.text_layer is None for page in pages):
                pages_total += len(pages)
                read_seconds += seconds
            row: dict[str, Any] = {"document": document.name, "pages": len(pages), "load_read_s": round(seconds, 2)}
            for extractor in EXTRACTORS:
                started = time.perf_counter()
                fields, _ = await extract(doc, lines, extractor=extractor, model=model, model_name=args.model)
                right = [name for name, value in document.truth.items() if fields[name].value == value]
                totals[extractor][0] += len(right)
                totals[extractor][1] += len(document.truth)
                row[extractor] = {
                    "correct": f"{len(right)}/{len(document.truth)}",
                    "wrong": {n: fields[n].value for n in document.truth if n not in right},
                    "seconds": round(time.perf_counter() - started, 2),
                }
            report["documents"].append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    finally:
        await model.aclose()
    for extractor, (correct, total) in totals.items():
        report["extractors"][extractor] = {"exact_match": round(correct / total, 3), "fields": f"{correct}/{total}"}
    report["ocr_seconds_per_page"] = round(read_seconds / pages_total, 2) if pages_total else None
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-base-url", default="http://127.0.0.1:8000/v1")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--max-tokens", type=int, default=600)
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
