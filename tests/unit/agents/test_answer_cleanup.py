"""AnswerCleaner on answers SmolLM2-135M really gave through the agent: prompt scaffolding and repetition loops.

Each case is checked whole and streamed a word (and a character) at a time: what a stream sends in total must
equal the whole answer cleaned, and nothing sent is ever taken back.
"""

from __future__ import annotations

import re

import pytest

from inferstack.agents.answer_cleanup import AnswerCleaner, clean_answer, leading_sentences

ECHOED_PASSAGE = (
    "[3] (llm_serving.csv) Question: Which latency metric measures how long a user waits before any text appears?\n"
    "Context: The latency metric that measures the time it takes for a stream of text to be displayed on a user's "
    "screen is called the time-to-first-token (TTFT). It is measured in milliseconds."
)
NEXT_PASSAGE_AFTER_THE_ANSWER = (
    'The stream ends with the line "data: [DONE]". Token usage\n[3] (llm_serving.csv) Question: What is the '
    "difference between the end_of_sequence and the end_of_stream?\nContext: The end_of_sequence is the end of"
)
SENTENCE_LOOP = (
    "The light-year is a unit of distance, not of time. It is a measure of length, not of time. It is a unit of "
    "length that is used to measure distances in astronomy, but it is not a measure of time. It is a unit of length "
    "that is used to measure distances in astronomy, but it is not a measure of time."
)
PHRASE_LOOP = (
    "The finish_reason comes back when max_tokens truncates the reply. The max_tokens is a string that is not "
    "included in the returned content. The max_tokens is a string that is not a token that is not a token that is "
    "not a token that is not a token that is not a token that is not"
)
QUESTION_ONLY = "Question: How does reusing KV blocks for a shared system prompt cut time to first token?"
LABEL_CUT_BY_MAX_TOKENS = (
    "A multi-core server can handle more requests at once. This is a key factor in its throughput.\n[4] (llm_serving."
)

CASES = [
    pytest.param(
        ECHOED_PASSAGE,
        "The latency metric that measures the time it takes for a stream of text to be displayed on a user's screen "
        "is called the time-to-first-token (TTFT). It is measured in milliseconds.",
        id="label-and-echoed-question-dropped",
    ),
    pytest.param(
        NEXT_PASSAGE_AFTER_THE_ANSWER,
        'The stream ends with the line "data: [DONE]".',
        id="next-passage-ends-the-answer",
    ),
    pytest.param(
        SENTENCE_LOOP,
        "The light-year is a unit of distance, not of time. It is a measure of length, not of time. It is a unit of "
        "length that is used to measure distances in astronomy, but it is not a measure of time.",
        id="repeated-sentence-cut",
    ),
    pytest.param(
        PHRASE_LOOP,
        "The finish_reason comes back when max_tokens truncates the reply. The max_tokens is a string that is not "
        "included in the returned content.",
        id="phrase-loop-cut-at-its-sentence",
    ),
    pytest.param(
        "Mars has two moons. They are small. Mars has two moons. They are small.",
        "Mars has two moons. They are small.",
        id="short-sentences-said-again",
    ),
    pytest.param(QUESTION_ONLY, "", id="only-the-question-echoed"),
    pytest.param(
        LABEL_CUT_BY_MAX_TOKENS,
        "A multi-core server can handle more requests at once. This is a key factor in its throughput.",
        id="half-written-label-at-the-end",
    ),
    pytest.param("Answer: Paris is the capital of France.", "Paris is the capital of France.", id="answer-marker"),
    pytest.param(
        "The capital of France is Paris [1]. It has about two million inhabitants.",
        "The capital of France is Paris [1]. It has about two million inhabitants.",
        id="a-citation-is-not-scaffolding",
    ),
    pytest.param(
        "Continuous batching lets new requests join at every decode step, so the GPU stays busy and the batch "
        "never waits for its longest sequence; static batching waits for the longest one.",
        "Continuous batching lets new requests join at every decode step, so the GPU stays busy and the batch "
        "never waits for its longest sequence; static batching waits for the longest one.",
        id="a-good-answer-is-untouched",
    ),
]


def streamed(text: str, pieces: list[str]) -> tuple[str, AnswerCleaner]:
    cleaner = AnswerCleaner()
    sent = ""
    for piece in pieces:
        sent += cleaner.feed(piece)
        if cleaner.stopped:
            break
    return sent + cleaner.finish(), cleaner


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_whole_answer_is_cleaned(raw: str, expected: str) -> None:
    assert clean_answer(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), CASES)
@pytest.mark.parametrize("split", ["words", "characters"])
def test_a_stream_sends_the_same_clean_answer(raw: str, expected: str, split: str) -> None:
    pieces = re.findall(r"\s*\S+", raw) if split == "words" else list(raw)
    text, cleaner = streamed(raw, pieces)
    assert cleaner.text == text
    if raw is PHRASE_LOOP:
        # The loop shows itself only after the sentence's first words were sent; the stream ends at the repeat.
        assert text.startswith(expected) and text.count("that is not a token") == 1
    else:
        assert text.strip() == expected


def test_a_loop_stops_generation_long_before_the_token_cap() -> None:
    loop = "It is a unit of length used in astronomy, not a measure of time. " * 40
    pieces = re.findall(r"\s*\S+", loop)
    cleaner = AnswerCleaner()
    fed = 0
    for piece in pieces:
        cleaner.feed(piece)
        fed += 1
        if cleaner.stopped:
            break
    assert cleaner.stopped and cleaner.reason == "repetition"
    assert fed < 2 * len(pieces) / 40 + 2  # the second copy of the sentence is enough to see the loop
    assert cleaner.text.strip() == "It is a unit of length used in astronomy, not a measure of time."


def test_scaffolding_stops_generation_and_is_never_sent() -> None:
    cleaner = AnswerCleaner()
    sent = ""
    for piece in re.findall(r"\s*\S+", NEXT_PASSAGE_AFTER_THE_ANSWER):
        sent += cleaner.feed(piece)
        assert "[3]" not in sent and "Question" not in sent
        if cleaner.stopped:
            break
    assert cleaner.stopped and cleaner.reason == "scaffolding"


def test_words_stream_out_with_a_small_hold_back() -> None:
    words = [f" w{i}" for i in range(60)]  # one long sentence of distinct words
    cleaner = AnswerCleaner()
    sent = [cleaner.feed(word) for word in words]
    assert sum(bool(piece) for piece in sent) > 30  # most words go out as they arrive, not at the end
    assert "".join(sent) + cleaner.finish() == "".join(words).strip()


def test_leading_sentences_of_a_passage_drop_its_labels_and_fit_the_budget() -> None:
    passage = (
        "Question: What is time to first token?\nContext: Time to first token (TTFT) is the delay between a "
        "request and the first token. It includes queueing and prefill. Benchmarks report its percentiles."
    )
    assert leading_sentences(passage, 120) == (
        "Time to first token (TTFT) is the delay between a request and the first token. It includes queueing and "
        "prefill."
    )
    assert leading_sentences("no sentence end here at all", 10) == "no sentenc…"
