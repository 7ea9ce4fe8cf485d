"""The Vision AI FAQ: question/answer pairs shipped in ``faq.json``, searched with BM25 (numpy only).

Retrieval is Okapi BM25 (k1 = 1.5, b = 0.75) over each entry's question, counted twice, and its
answer, after lower-casing, splitting into words, dropping common English words and a crude suffix
stemmer (so "registering" finds "register"). A few product words have synonyms folded into one
term ("log in"/"sign in", "password"/"passphrase"). No model is downloaded.

``search`` returns entries with a *relative* score: the BM25 score divided by the score the entry's
own question gets against itself, so a threshold means the same for short and long entries.

Answering from the file is for a question that *is* the entry's question in other words, and only
then (``match``): the best entry must reach ``MATCH_THRESHOLD`` **and** its question (not only its
answer) must agree with what was asked both ways — most of the asked words are in the entry's
question (``ASKED_IN_ENTRY``) and most of the entry's question is in what was asked
(``ENTRY_IN_ASKED``). A shared word or two is not enough: "How do I log out?" once got the
delete-a-model entry through the word "log" in its answer, and "How do I delete my own account?" the
entry about *an admin* removing their own. Anything less goes to the LLM with the closest entries
as context (it can tell which one, if any, answers), or, without an LLM, those entries are shown
labelled as the closest ones — never as the answer.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from vision_widgets.core.config import package_path

FAQ_FILE = package_path("core", "llm", "faq.json")
#: A best match at or above this relative score (and agreeing with its question, below) is answered from the FAQ.
MATCH_THRESHOLD = 0.3
#: The IDF-weighted share of the asked words that the entry's question must contain…
ASKED_IN_ENTRY = 0.45
#: …and the share of the entry question's words that the question asked must contain.
ENTRY_IN_ASKED = 0.6
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


#: Phrases folded into one term before splitting (an acronym and its words are one term).
_PHRASES = (("log in", "login"), ("sign in", "login"), ("log on", "login"), ("log out", "logout"),
            ("sign out", "logout"), ("log off", "logout"), ("sign off", "logout"),
            ("population stability index", "psi"))


def _stem(word: str) -> str:
    for suffix in ("ations", "ation", "ions", "ion", "ings", "ing", "ies", "ied", "als", "al", "ers", "er", "ed",
                   "es", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            break
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


def tokens(text: str) -> list[str]:
    """The search terms of ``text``."""
    text = text.lower()
    for phrase, term in _PHRASES:
        text = text.replace(phrase, term)
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
        self._question_terms = tuple(frozenset(q) for q in questions)
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
        # ties between entries whose answers say as much are broken by whose *question* says it
        in_question = self._in_questions(terms)
        order = np.argsort(-(rel * (1 + in_question)), kind="stable")[:limit]
        return [Hit(self.entries[i], float(rel[i])) for i in order if raw[i] > 0]

    def _in_questions(self, terms: list[str]) -> np.ndarray:
        """Per entry, the IDF-weighted share of the asked terms its question contains."""
        unique = sorted(set(terms))
        total = sum(self._weight(t) for t in unique)
        if not total:
            return np.zeros(len(self.entries))
        return np.array([sum(self._weight(t) for t in unique if t in q) / total for q in self._question_terms])

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

    def _weight(self, term: str) -> float:
        j = self.index.get(term)
        return float(self.idf[j]) if j is not None else (float(self.idf.max()) if len(self.idf) else 1.0)

    def agreement(self, question: str, entry: Entry) -> tuple[float, float]:
        """How far ``question`` and ``entry``'s own question say the same: the IDF-weighted share of the
        asked words found in the entry's question, and of the entry question's words found in the asked."""
        asked = set(tokens(question))
        theirs = self._question_terms[self.entries.index(entry)]
        share = lambda part, whole: (sum(self._weight(t) for t in part) / total  # noqa: E731
                                     if (total := sum(self._weight(t) for t in whole)) else 0.0)
        return share(asked & theirs, asked), share(asked & theirs, theirs)

    def match(self, question: str) -> Hit | None:
        """The entry whose question ``question`` restates (see the module docstring), if any: answered
        from the file. None sends the question to the LLM with ``search``'s entries, or shows them."""
        hits = self.search(question, 1)
        if not hits or hits[0].score < MATCH_THRESHOLD:
            return None
        asked_in_entry, entry_in_asked = self.agreement(question, hits[0].entry)
        return hits[0] if asked_in_entry >= ASKED_IN_ENTRY and entry_in_asked >= ENTRY_IN_ASKED else None


@lru_cache(maxsize=1)
def load() -> Faq:
    """The shipped FAQ (read once per process; the file is part of the package)."""
    data = json.loads(FAQ_FILE.read_text(encoding="utf-8"))
    return Faq([Entry(e["question"], e["answer"]) for e in data["entries"]])
