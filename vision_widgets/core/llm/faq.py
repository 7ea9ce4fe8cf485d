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
MATCH_THRESHOLD = 0.16
#: Entries given as context (or shown) when no entry matches closely.
CLOSEST = 3
K1, B = 1.5, 0.75
QUESTION_WEIGHT = 2.0

_STOP = frozenset("""a an the and or but if of to in on at by for with from as is are was were be been being do does
did done can could should would will shall may might must i me my we our you your it its this that these those
there here what which who whom whose when where why how about into out up down over under again then than so
not no yes any all each some such only own same too very just also get got have has had am s t vision""".split())

_SYNONYMS = {"signin": "login", "logon": "login", "passphrase": "password", "pwd": "password",
             "admins": "admin", "administrator": "admin", "administrators": "admin", "llm": "llm",
             "gpt": "llm", "openai": "llm", "psi": "psi", "datasets": "data", "dataset": "data",
             "notebooks": "notebook", "jupyter": "notebook", "restricted": "restrict", "private": "restrict",
             "confidential": "restrict", "sensitive": "restrict", "see": "view", "visible": "view",
             "show": "view", "shown": "view", "watch": "view", "open": "view", "remov": "delet",
             "creat": "add", "cli": "command", "expir": "end", "inactiv": "activity", "idl": "activity",
             "secret": "password", "key": "password", "credential": "password", "computer": "machine",
             "laptop": "machine", "send": "leav", "sent": "leav", "display": "view", "list": "view"}


def _stem(word: str) -> str:
    for suffix in ("ations", "ation", "ions", "ion", "ings", "ing", "ies", "ied", "als", "al", "ers", "er", "ed",
                   "es", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            break
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


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
        questions = [tokens(e.question) for e in self.entries]
        answers = [tokens(e.answer) for e in self.entries]
        vocab = sorted({t for d in questions + answers for t in d})
        self.index = {t: i for i, t in enumerate(vocab)}
        # Two fields, each with its own length normalisation (a long answer must not bury a short
        # question that says exactly what was asked); the question weighs QUESTION_WEIGHT times more.
        self.weights = QUESTION_WEIGHT * self._field(questions) + self._field(answers)
        both = [q + a for q, a in zip(questions, answers)]
        df = np.array([sum(1 for d in both if t in d) for t in vocab], dtype=float)
        n = len(both)
        self.idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        self.present = np.zeros((n, len(vocab)), dtype=bool)
        for i, d in enumerate(both):
            self.present[i, [self.index[t] for t in d]] = True
        self.self_scores = np.array([max(self._scores(q)[i], 1e-9) for i, q in enumerate(questions)])

    def _field(self, docs: list[list[str]]) -> np.ndarray:
        """BM25's saturated, length-normalised term frequencies of one field."""
        tf = np.zeros((len(docs), len(self.index)))
        for i, d in enumerate(docs):
            for t in d:
                tf[i, self.index[t]] += 1
        lengths = tf.sum(axis=1)
        norm = K1 * (1 - B + B * lengths / max(lengths.mean(), 1.0))
        return tf * (K1 + 1) / (tf + norm[:, None])

    def _scores(self, terms: list[str]) -> np.ndarray:
        q = np.zeros(len(self.index))
        for t in terms:
            j = self.index.get(t)
            if j is not None:
                q[j] = 1.0  # a repeated word in the question counts once
        return self.weights @ (q * self.idf)

    def search(self, question: str, limit: int = CLOSEST) -> list[Hit]:
        """The ``limit`` closest entries, best first (empty when no word is shared)."""
        terms = tokens(question)
        raw = self._scores(terms)
        coverage = self._coverage(terms)
        rel = raw / self.self_scores * coverage
        order = np.argsort(-(raw * coverage), kind="stable")[:limit]
        return [Hit(self.entries[i], float(rel[i])) for i in order if raw[i] > 0]

    def _coverage(self, terms: list[str]) -> np.ndarray:
        """Per entry, the IDF-weighted share of the question's terms it contains (a word no entry has
        weighs as the rarest): a question about something else shares a word or two, not most of them."""
        unique = sorted(set(terms))
        if not unique:
            return np.zeros(len(self.entries))
        rare = float(self.idf.max()) if len(self.idf) else 1.0
        weights = np.array([self.idf[self.index[t]] if t in self.index else rare for t in unique])
        present = np.array([[self.present[i, self.index[t]] if t in self.index else False for t in unique]
                            for i in range(len(self.entries))])
        return (present @ weights) / weights.sum()

    def match(self, question: str) -> Hit | None:
        """The entry that answers ``question`` (best score ≥ ``MATCH_THRESHOLD``), if any."""
        hits = self.search(question, 1)
        return hits[0] if hits and hits[0].score >= MATCH_THRESHOLD else None


@lru_cache(maxsize=1)
def load() -> Faq:
    """The shipped FAQ (read once per process; the file is part of the package)."""
    data = json.loads(FAQ_FILE.read_text(encoding="utf-8"))
    return Faq([Entry(e["question"], e["answer"]) for e in data["entries"]])
