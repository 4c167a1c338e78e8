"""Cleans a model's answer as it streams: the prompt's scaffolding is removed and a repetition loop ends it.

Small models imitate the prompt they were given: they begin with a passage label and an echoed question
(`[3] (llm_serving.csv) Question: … Context: …`), or, after a sentence or two, start writing the next
passage. They also fall into loops, one sentence or phrase over and over until `max_tokens`. `AnswerCleaner`
is fed the deltas of one answer and returns only the text that is safe to show:

* a leading passage label, echoed `Question: …` line and `Context:` / `Answer:` marker are dropped, and the
  text after them kept;
* a passage label or a `Question:` / `Context:` line after the answer has begun ends the answer there (the
  unfinished sentence before it is trimmed), since everything after it is prompt, not answer;
* a sentence said before, a run of `REPEAT_WORDS` words that already appeared in a sentence, or one of
  `LOOP_WORDS` words seen for the third time ends the answer where the repetition starts (at its sentence's
  start when that is still unsent).

The caller stops generation once `stopped` is set. The last `HOLD_BACK_WORDS` words are held back until the
next delta shows they cannot start scaffolding or a repeat, so nothing is sent that must be taken back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REPEAT_WORDS = 10  # a run this long seen before is a loop, not a coincidence
LOOP_WORDS = 5  # a run this long seen twice before is a loop
HOLD_BACK_WORDS = REPEAT_WORDS + 2  # the last words are held back until they cannot start a repeat
SENTENCE_WORDS = 3  # a sentence this long said twice is a loop
SENTENCE_HOLD_WORDS = 16  # a sentence this short is held back whole, so a repeat of it can be cut cleanly

_LABEL = r"\[\d{1,3}\]\s*(?:\([^)\n]{0,300}\))?"
_FIELD = r"(?:Question|Context)\s*:"
# Scaffolding after the answer has begun: a passage label with its source, or a prompt field opening a line.
_LATER_SCAFFOLD = re.compile(rf"\[\d{{1,3}}\]\s*\([^)\n]{{0,300}}\)|(?:^|\n)[ \t]*{_FIELD}")
# An unfinished trailing form of the above, still being generated: held back until it resolves.
_PARTIAL_TAIL = re.compile(r"(?:\[\d{0,3}\]?\s*(?:\([^)\n]*)?|\n[ \t]*[A-Za-z]{0,8}\s*)$")
_LEADING_LABEL = re.compile(rf"\s*{_LABEL}\s*")
_LEADING_QUESTION = re.compile(r"\s*Question\s*:[^\n]*?(?:\n|(?=\bContext\s*:)|$)")
_LEADING_MARKER = re.compile(r"\s*(?:Context|Answer)\s*:\s*")
_WORD = re.compile(r"[\w'’-]+")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s)")


@dataclass(frozen=True)
class _Cut:
    at: int  # offset in the body where the answer ends
    trim_fragment: bool  # also drop an unfinished sentence before `at`


def _strip_leading(text: str, final: bool) -> tuple[int, bool]:
    """Where the answer proper starts in `text`, and whether that is settled (more text cannot change it)."""
    position = 0
    while True:
        rest = text[position:]
        if not final and (not rest.strip() or _could_become_scaffolding(rest)):
            return position, False
        for pattern in (_LEADING_LABEL, _LEADING_MARKER):
            match = pattern.match(rest)
            if match and match.end() > 0 and rest[: match.end()].strip():
                position += match.end()
                break
        else:
            match = _LEADING_QUESTION.match(rest)
            if match is None:
                return position + len(rest) - len(rest.lstrip()), True
            if not final and match.end() == len(rest) and not rest.endswith("\n"):
                return position, False  # the echoed question may still be going on
            position += match.end()


def _could_become_scaffolding(rest: str) -> bool:
    """True while the start of `rest` is a prefix of a label, a field or a marker (it may yet become one)."""
    head = rest.lstrip()
    if not head:
        return True
    if re.fullmatch(r"\[\d{0,3}\]?\s*(?:\([^)\n]*)?", head):
        return True
    word = re.match(r"[A-Za-z]*\s*:?", head)
    assert word is not None
    if word.end() == len(head):
        bare = head.rstrip(": \t").lower()
        return any(name.startswith(bare) for name in ("question", "context", "answer"))
    return False


def _words(text: str) -> list[tuple[str, int, int]]:
    """(lower-cased word, offset, sentence number) for each word of `text`."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    words = []
    sentence = 0
    for match in _WORD.finditer(text):
        while sentence < len(ends) and ends[sentence] <= match.start():
            sentence += 1
        words.append((match.group().lower(), match.start(), sentence))
    return words


def _sentence_start(text: str, offset: int) -> int:
    start = 0
    for match in _SENTENCE_END.finditer(text, 0, offset):
        start = match.end()
    return start + len(text[start:offset]) - len(text[start:offset].lstrip())


def _repetition(body: str, sent: int) -> int | None:
    """Offset in `body` where a repetition loop starts (never before `sent`), or None.

    Runs of words are compared within sentences (a run across a sentence end is a coincidence of phrasing),
    and whole sentences of `SENTENCE_WORDS` or more words with earlier ones. Of several loops, the one a
    stream would see first counts. The answer ends at the start of the sentence where the repeat begins (when
    that is not the first sentence and none of it was sent yet), else where the repeat begins.
    """
    words = _words(body)
    found = [loop for loop in (_repeated_run(words), _repeated_sentence(words, body)) if loop is not None]
    if not found:
        return None
    _, index = min(found)
    start = words[index][1]
    sentence_start = _sentence_start(body, start)
    if sentence_start >= sent and sentence_start > 0:
        return sentence_start  # the looping sentence goes whole, when none of it was sent yet
    return max(start, sent)


def _repeated_run(words: list[tuple[str, int, int]]) -> tuple[int, int] | None:
    """(word index where the loop shows, word index where it starts) of the first repeated run, or None."""
    first_seen: dict[tuple[int, tuple[str, ...]], int] = {}
    counts: dict[tuple[str, ...], int] = {}
    for index, (_, _, sentence) in enumerate(words):
        for size in (LOOP_WORDS, REPEAT_WORDS):
            run = words[index : index + size]
            if len(run) < size or run[-1][2] != sentence:
                continue
            key = tuple(w for w, _, _ in run)
            earlier = first_seen.setdefault((size, key), index)
            counts[key] = counts.get(key, 0) + 1
            if earlier != index and (size == REPEAT_WORDS or counts[key] >= 3):
                return index + size - 1, index
    return None


def _repeated_sentence(words: list[tuple[str, int, int]], body: str) -> tuple[int, int] | None:
    """(word index where the loop shows, word index where it starts) of the first repeated sentence, or None."""
    finished = len(list(_SENTENCE_END.finditer(body)))
    seen: set[tuple[str, ...]] = set()
    index = 0
    while index < len(words) and words[index][2] < finished:
        sentence = words[index][2]
        end = index
        while end < len(words) and words[end][2] == sentence:
            end += 1
        key = tuple(w for w, _, _ in words[index:end])
        if len(key) >= SENTENCE_WORDS and key in seen:
            return end - 1, index
        seen.add(key)
        index = end
    return None


def _later_scaffolding(body: str) -> int | None:
    match = _LATER_SCAFFOLD.search(body)
    return None if match is None else match.start()


def _trim_fragment(text: str) -> str:
    """`text` up to its last finished sentence, when it has one; else unchanged."""
    ends = list(_SENTENCE_END.finditer(text + " "))
    return text[: ends[-1].end()] if ends else text


class AnswerCleaner:
    """Feed it one answer's deltas; it returns the text to send now, and `finish()` the rest."""

    def __init__(self) -> None:
        self._raw = ""
        self._sent = ""  # cleaned text already returned
        self.stopped = False  # scaffolding or a loop was found: the caller should stop generating
        self.reason: str | None = None

    @property
    def text(self) -> str:
        """The cleaned answer so far (all of it, once finished)."""
        return self._sent

    def feed(self, delta: str) -> str:
        if self.stopped:
            return ""
        self._raw += delta
        return self._advance(final=False)

    def finish(self) -> str:
        if self.stopped:
            return ""
        out = self._advance(final=True)
        self.stopped = True
        return out

    def _advance(self, *, final: bool) -> str:
        start, settled = _strip_leading(self._raw, final)
        if not settled:
            return ""
        body = self._raw[start:]
        cut = self._cut(body + " " if final else body)
        if cut is not None:
            end = body[: cut.at].rstrip()
            if cut.trim_fragment:
                end = _trim_fragment(end)
            end = end if len(end) >= len(self._sent) else self._sent
            self.stopped = True
            return self._emit(end)
        if final:
            partial = _PARTIAL_TAIL.search(body)
            if partial is not None and partial.group().strip() and _could_become_scaffolding(partial.group()):
                self.reason = "scaffolding"  # a label or field cut off by max_tokens
                return self._emit(max(_trim_fragment(body[: partial.start()].rstrip()), self._sent, key=len))
            return self._emit(body.rstrip())
        return self._emit(body[: self._safe_end(body)])

    def _cut(self, body: str) -> _Cut | None:
        scaffold = _later_scaffolding(body)
        loop = _repetition(body if scaffold is None else body[:scaffold], len(self._sent))
        if loop is not None:
            self.reason = "repetition"
            return _Cut(loop, trim_fragment=False)
        if scaffold is not None:
            self.reason = "scaffolding"
            return _Cut(scaffold, trim_fragment=True)
        return None

    def _safe_end(self, body: str) -> int:
        """How much of `body` can be sent: all but the last few words and any unfinished scaffolding."""
        words = _words(body)
        end = words[-HOLD_BACK_WORDS][1] if len(words) >= HOLD_BACK_WORDS else 0
        if len(words) >= SENTENCE_HOLD_WORDS and words[-SENTENCE_HOLD_WORDS][2] == words[-1][2]:
            pass  # a long sentence: hold back only its last words
        elif words:
            end = min(end, _sentence_start(body, words[-1][1]))
        end = len(body[:end].rstrip())  # whitespace goes out with the word after it
        partial = _PARTIAL_TAIL.search(body)
        if partial is not None and partial.group():
            end = min(end, partial.start())
        return max(end, len(self._sent))

    def _emit(self, cleaned: str) -> str:
        if not cleaned.startswith(self._sent):  # pragma: no cover - sent text is never taken back
            return ""
        out = cleaned[len(self._sent) :]
        self._sent = cleaned
        return out


def clean_answer(text: str) -> str:
    """The whole answer cleaned at once (what a stream of it would have sent in total)."""
    cleaner = AnswerCleaner()
    return cleaner.feed(text) + cleaner.finish()


def leading_sentences(passage: str, max_chars: int) -> str:
    """The first sentences of a passage (its `Question:`/`Context:` labels removed) within `max_chars`."""
    text = " ".join(clean_answer(passage).split())
    if len(text) <= max_chars:
        return text
    cut = _trim_fragment(text[:max_chars])
    return cut if len(cut) < max_chars else cut.rstrip() + "…"
