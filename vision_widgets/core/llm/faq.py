"""The Vision AI FAQ: question/answer pairs shipped in ``faq.json``, searched with BM25 (numpy only).

Retrieval is Okapi BM25 (k1 = 1.5, b = 0.75) over each entry's question, counted twice, and its
answer, after lower-casing, splitting into words, dropping common English words and a crude suffix
stemmer (so "registering" finds "register"). A few product words have synonyms folded into one
term ("log in"/"sign in", "password"/"passphrase"). No model is downloaded.

``search`` returns entries with a *relative* score: the BM25 score divided by the score the entry's
own question gets against itself, so a threshold means the same for short and long entries. A
question whose best match reaches ``MATCH_THRESHOLD`` is answered from the file; below it, the
closest entries go to the LLM as context (or, without one, are shown as they are).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from vision_widgets.core.config import package_path

FAQ_FILE = package_path("core", "llm", "faq.json")
#: A best match at or above this relative score is answered from the FAQ.
MATCH_THRESHOLD = 0.40
#: Entries given as context (or shown) when no entry matches closely.
CLOSEST = 3
K1, B = 1.5, 0.75

_STOP = frozenset("""a an the and or but if of to in on at by for with from as is are was were be been being do does
did done can could should would will shall may might must i me my we our you your it its this that these those
there here what which who whom whose when where why how about into out up down over under again then than so
not no yes any all each some such only own same too very just also get got have has had am s t""".split())

_SYNONYMS = {"signin": "login", "logon": "login", "passphrase": "password", "pwd": "password",
             "admins": "admin", "administrator": "admin", "administrators": "admin", "llm": "llm",
             "gpt": "llm", "openai": "llm", "ai": "llm", "psi": "psi", "datasets": "data", "dataset": "data",
             "notebooks": "notebook", "jupyter": "notebook", "restricted": "restrict", "private": "restrict",
             "confidential": "restrict", "sensitive": "restrict", "see": "view", "visible": "view",
             "show": "view", "shown": "view", "watch": "view", "access": "view"}


def _stem(word: str) -> str:
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ied", "ers", "er", "ed", "es", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            break
    return word


def tokens(text: str) -> list[str]:
    """The search terms of ``text``."""
    text = text.lower().replace("log in", "login").replace("sign in", "login").replace("log on", "login")
    out = []
    for w in re.findall(r"[a-z0-9]+", text):
        if w in _STOP:
            continue
        w = _SYNONYMS.get(w, w)
        out.append(_SYNONYMS.get(_stem(w), _stem(w)))
    return out


@dataclass(frozen=True)
class Entry:
    question: str
    answer: str


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float  # relative: 1.0 = as good as the entry's own question


class Faq:
    """The entries and their BM25 index."""

    def __init__(self, entries: list[Entry]) -> None:
        self.entries = tuple(entries)
        docs = [tokens(e.question) * 2 + tokens(e.answer) for e in self.entries]
        vocab = sorted({t for d in docs for t in d})
        self.index = {t: i for i, t in enumerate(vocab)}
        tf = np.zeros((len(docs), len(vocab)))
        for i, d in enumerate(docs):
            for t in d:
                tf[i, self.index[t]] += 1
        lengths = tf.sum(axis=1)
        df = (tf > 0).sum(axis=0)
        n = len(docs)
        self.idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        norm = K1 * (1 - B + B * lengths / max(lengths.mean(), 1.0))
        self.weights = tf * (K1 + 1) / (tf + norm[:, None])  # BM25's saturated term frequency
        self.self_scores = np.array([max(self._scores(tokens(e.question))[i], 1e-9)
                                     for i, e in enumerate(self.entries)])

    def _scores(self, terms: list[str]) -> np.ndarray:
        q = np.zeros(len(self.index))
        for t in terms:
            j = self.index.get(t)
            if j is not None:
                q[j] = 1.0  # a repeated word in the question counts once
        return self.weights @ (q * self.idf)

    def search(self, question: str, limit: int = CLOSEST) -> list[Hit]:
        """The ``limit`` closest entries, best first (empty when no word is shared)."""
        raw = self._scores(tokens(question))
        rel = raw / self.self_scores
        order = np.argsort(-rel, kind="stable")[:limit]
        return [Hit(self.entries[i], float(rel[i])) for i in order if raw[i] > 0]

    def match(self, question: str) -> Hit | None:
        """The entry that answers ``question`` (best score ≥ ``MATCH_THRESHOLD``), if any."""
        hits = self.search(question, 1)
        return hits[0] if hits and hits[0].score >= MATCH_THRESHOLD else None


@lru_cache(maxsize=1)
def load() -> Faq:
    """The shipped FAQ (read once per process; the file is part of the package)."""
    data = json.loads(FAQ_FILE.read_text(encoding="utf-8"))
    return Faq([Entry(e["question"], e["answer"]) for e in data["entries"]])
