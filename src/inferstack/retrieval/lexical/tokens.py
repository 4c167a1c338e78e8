"""Terms of a text for lexical search and answer grading.

Identifiers and numbers stay whole (`PN-10482`, `E-2210`, `3.4.1`, `4,800`, `IP54`) and are also split into
their parts (`pn`, `10482`), so both "PN-10482" and "part 10482" match. Words are lower-cased and a light
suffix-stripping stem folds plurals and common verb forms (`batteries` ~ `battery`, `booked` ~ `book`).
"""

from __future__ import annotations

import re
import unicodedata

# A run of letters/digits joined by - . , / _ (inside, never at the ends): words, identifiers, numbers, dates.
_TOKEN = re.compile(r"[^\W_]+(?:[-./,_:][^\W_]+)*")
_PARTS = re.compile(r"[^\W_]+")

_STOPWORDS = """
a an the and or but if of to in on at by for from with without about into onto over under as is are was
were be been being do does did done has have had having it its this that these those there here what which who
whom whose when where why how i you he she we they me my your our their his her them us can could may might
must shall should will would not no yes than then so such too very just also only any all each every some
much many more most other another same own per via up down out off again further once both either neither
s t tell please give know need want get got
"""
STOPWORDS = frozenset(_STOPWORDS.split())


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def stem(word: str) -> str:
    """A light English stem: plural, -ed, -ing and -ly forms folded, a final e dropped (`released`, `release`
    and `releases` all give `releas`); never shorter than 3 letters, and short words are left alone."""
    if not word.isalpha() or len(word) <= 3:
        return word
    for suffix, replacement in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) + len(replacement) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                break
            if suffix == "es" and not word.endswith(("ches", "shes", "xes", "zes", "sses")):
                continue
            word = word[: len(word) - len(suffix)] + replacement
            break
    if word.endswith("ly") and len(word) >= 6:
        word = word[:-2]
    if word.endswith("e") and len(word) >= 5:
        word = word[:-1]
    return word


# Words that frame a question (what kind of answer it wants) rather than name what it is about.
_QUESTION_WORDS = """
long many much far often big large fast old time according accord say said says state stated mean meaning
called name named number amount total cost lowest highest least most maximum minimum show shows after during
before happen happened exactly approximately about used use which
"""
QUESTION_WORDS = frozenset(stem(word) for word in _QUESTION_WORDS.split()) | frozenset(_QUESTION_WORDS.split())


def is_identifier(token: str) -> bool:
    """A token holding a digit (part number, error code, version, amount) or an inner separator."""
    return any(ch.isdigit() for ch in token)


def terms(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Index terms of `text`, in order: each whole token (stemmed if a word), then the parts of a compound one."""
    out: list[str] = []
    for match in _TOKEN.finditer(fold(text)):
        token = match.group().rstrip(".,")
        parts = _PARTS.findall(token)
        if len(parts) > 1:
            out.append(token)
            out.extend(stem(p) for p in parts if keep_stopwords or p not in STOPWORDS)
        elif token and (keep_stopwords or token not in STOPWORDS):
            out.append(stem(token))
    return out


def key_terms(question: str) -> list[str]:
    """What a question asks about: its terms without stopwords or framing words, each once, in order."""
    seen: dict[str, None] = {}
    for term in terms(question):
        if term not in QUESTION_WORDS:
            seen.setdefault(term, None)
    return list(seen)
