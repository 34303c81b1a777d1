"""French text for search: shared by the embedded backends and by the tests of every backend.

One pipeline turns any text into search terms, the same way for documents and for queries:

    normalise (NFKD, accents stripped, casefolded) → words (letters and digits only, so query
    syntax is never more than a separator) → elisions removed (l', d', qu'…) → stop words dropped
    → Snowball French stems.

Queries then get the editors' synonyms (search/synonyms.txt) and typo correction on top.
Accents are stripped before stemming, so a word stems the same whether or not it was typed
with its accents.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import NamedTuple

import snowballstemmer
from rapidfuzz import process
from rapidfuzz.distance import OSA

SYNONYMS_FILE = Path(__file__).with_name("synonyms.txt")

_WORD = re.compile(r"[^\W_]+")
# An elided article or pronoun at the start of a word: l'emploi, qu'il, jusqu'au (also with ’).
_ELISION = re.compile(r"\b(?:jusqu|lorsqu|puisqu|quoiqu|qu|[cdjlmnst])['’‘ʼ]")
# Letters that NFKD does not decompose.
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th"})

# Normalised (accents already stripped), so "à" is "a" and "où" is "ou". Not "été": in "job
# d'été" it is the summer, and people search for it.
STOP_WORDS = frozenset(
    """
    a au aux avec ce ces cet cette c ca comme d dans de des du elle elles en et eux il ils j je l la
    le les leur leurs lui m ma mais me meme mes moi mon n ne nos notre nous on ou par pas plus pour
    qu que qui s sa se ses son sur t ta te tes toi ton tres tu un une vos votre vous y
    est sont etre ai as avons avez ont suis es sommes etes
    """.split()
)

# Words shorter than this are never corrected: too many neighbours, too little signal.
MIN_CORRECTABLE = 4
# Longer "words" are not words (a pasted hash, a run of one key): nothing to correct them to.
MAX_CORRECTABLE = 30


def normalise(text: str) -> str:
    """Casefolded, accents stripped, ligatures spelled out: "Œuvre Créée" → "oeuvre creee"."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.translate(_LIGATURES)


def words(text: str) -> list[str]:
    """The normalised words of a text, elisions removed, stop words kept (as typed, for completion)."""
    return _WORD.findall(_ELISION.sub(" ", normalise(text)))


def terms(text: str) -> list[str]:
    """The words that carry meaning: `words` without the stop words."""
    return [w for w in words(text) if w not in STOP_WORDS]


@cache
def _stemmer() -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("french")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball French stem of one normalised word: "lettres" → "lettr"."""
    return str(_stemmer().stemWord(word))


def stems(text: str) -> list[str]:
    """The stems of a text's terms, in order: what the embedded backends index."""
    return [stem(t) for t in terms(text)]


# ---------------------------------------------------------------------------------------------
# Synonyms


Phrase = tuple[str, ...]  # a sequence of stems; one stem for a single word


def synonym_lines(lines: Iterable[str]) -> list[tuple[str, ...]]:
    """The editors' groups as written: one tuple of phrases per line of two or more members;
    blank lines and # comments are skipped. Every backend reads synonyms.txt through this."""
    groups = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            phrases = tuple(dict.fromkeys(p.strip() for p in line.split(",") if p.strip()))
            if len(phrases) > 1:
                groups.append(phrases)
    return groups


def read_synonym_groups(path: Path = SYNONYMS_FILE) -> list[tuple[str, ...]]:
    return synonym_lines(path.read_text(encoding="utf-8").splitlines())


class Synonyms:
    """Groups of words and phrases that find each other, held as stem phrases."""

    def __init__(self, groups: Iterable[frozenset[Phrase]]) -> None:
        self.groups = tuple(groups)
        self._index: dict[Phrase, frozenset[Phrase]] = {}
        for group in self.groups:
            for phrase in group:
                self._index[phrase] = self._index.get(phrase, frozenset()) | group
        self.longest = max((len(p) for p in self._index), default=1)
        self.stems = frozenset(s for phrase in self._index for s in phrase)

    @classmethod
    def parse(cls, lines: Iterable[str]) -> Synonyms:
        """One group per line, members separated by commas; blank lines and # comments ignored."""
        groups = []
        for members in synonym_lines(lines):
            group = frozenset(p for p in (tuple(stems(member)) for member in members) if p)
            if len(group) > 1:
                groups.append(group)
        return cls(groups)

    def of(self, phrase: Phrase) -> frozenset[Phrase]:
        """Every member of every group this phrase belongs to (empty when it belongs to none)."""
        return self._index.get(phrase, frozenset())


@cache
def synonyms() -> Synonyms:
    """The editors' synonyms from search/synonyms.txt, read once per process."""
    return Synonyms.parse(SYNONYMS_FILE.read_text(encoding="utf-8").splitlines())


def has_synonyms(term: str) -> bool:
    """Whether a normalised term is part of some synonym (its synonyms may be found, so keep it)."""
    return stem(term) in synonyms().stems


def expand(query_terms: Sequence[str], table: Synonyms | None = None) -> list[set[str]]:
    """One set of alternatives per query position, for terms already normalised (see `terms`).

    An alternative is a stem, or several stems joined by one space: a phrase whose stems must
    follow each other (stop words are dropped on both sides, so "lettre de motivation" is the
    phrase "lettr motiv"). A run of query terms that is a synonym phrase is one position.
    Backends OR the alternatives of a position, and decide how many positions a document needs
    (FTS5: all of one or two, half of more). A phrase holding another alternative of its
    position is left out: it finds nothing more, and would count twice.
    """
    table = synonyms() if table is None else table
    query_stems = [stem(t) for t in query_terms]
    positions: list[set[str]] = []
    i = 0
    while i < len(query_stems):
        for n in range(min(table.longest, len(query_stems) - i), 0, -1):
            phrase = tuple(query_stems[i : i + n])
            group = table.of(phrase)
            if group or n == 1:
                positions.append({" ".join(p) for p in _shortest(group | {phrase})})
                i += n
                break
    return positions


def _shortest(phrases: Iterable[Phrase]) -> set[Phrase]:
    """The phrases that hold none of the others: {"cv", "curriculum", "curriculum vita"} → {"cv", "curriculum"}."""

    def holds(longer: Phrase, shorter: Phrase) -> bool:
        n = len(shorter)
        return n < len(longer) and any(longer[i : i + n] == shorter for i in range(len(longer) - n + 1))

    phrases = set(phrases)
    return {p for p in phrases if not any(holds(p, other) for other in phrases)}


def expand_query(text: str) -> list[set[str]]:
    """`expand(terms(text))`: "CV gratuit" → [{"cv", "curriculum"}, {"gratuit"}]."""
    return expand(terms(text))


# ---------------------------------------------------------------------------------------------
# Typo correction


def max_typos(term: str) -> int:
    """How many edits a term may have from the word it means: 0, 1 up to 5 letters, 2 above.

    Numbers are never corrected: 2025 is not a typo for 2024.
    """
    if not term.isalpha() or len(term) < MIN_CORRECTABLE or len(term) > MAX_CORRECTABLE:
        return 0
    return 1 if len(term) <= 5 else 2


def correct(term: str, vocabulary: Iterable[str]) -> str:
    """The closest vocabulary word to a normalised term, or the term itself.

    Distance is optimal string alignment (a swap of two neighbouring letters is one typo, as in
    "entretein"). Among equally close words the earliest wins: list the vocabulary most
    frequent first.
    """
    limit = max_typos(term)
    if limit == 0:
        return term
    candidates = [w for w in vocabulary if abs(len(w) - len(term)) <= limit]
    if term in candidates:
        return term
    best = process.extractOne(term, candidates, scorer=OSA.distance, score_cutoff=limit)
    return str(best[0]) if best is not None else term


# ---------------------------------------------------------------------------------------------
# Snippets

SNIPPET_WORDS = 30
_SPACES = re.compile(r"\s+")
_MARKDOWN = (
    (re.compile(r"```.*?```", re.S), " "),  # code blocks say nothing a jobseeker searches for
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images: their alt text
    (re.compile(r"\[([^\]]*)\]\([^)]*\)"), r"\1"),  # links: their text
    (re.compile(r"<[^>]*>"), " "),  # raw HTML
    (re.compile(r"^\s{0,3}(?:#{1,6}|>|[-*+]|\d+[.)])\s+", re.M), ""),  # headings, quotes, lists
    (re.compile(r"[*_`~]+"), ""),  # emphasis and inline code marks
    (_SPACES, " "),
)


def plain(markdown: str) -> str:
    """Markdown (or plain text) flattened to one line of readable text for a snippet."""
    text = unicodedata.normalize("NFC", markdown)
    for pattern, replacement in _MARKDOWN:
        text = pattern.sub(replacement, text)
    return text.strip()


@lru_cache(maxsize=65536)
def _normalise_word(word: str) -> str:
    return normalise(word)


class _Token(NamedTuple):
    start: int
    end: int
    words: tuple[str, ...]  # normalised; usually one ("½" normalises to two)


_APOSTROPHES = "'’‘ʼ"


def _tokens(text: str) -> Iterator[_Token]:
    """The words of a text with where they stand in it, tokenised as `words` tokenises."""
    for match in _WORD.finditer(text):
        start, end = match.span()
        normalised = _normalise_word(match.group())
        if end < len(text) and text[end] in _APOSTROPHES and _ELISION.fullmatch(normalised + "'"):
            continue  # the l of l'entretien
        if normalised.isalnum():
            yield _Token(start, end, (normalised,))
        elif found := tuple(_WORD.findall(normalised)):
            yield _Token(start, end, found)


def written_words(text: str) -> list[tuple[str, str]]:
    """Each term of a text with how it is written (casefolded): [("quebec", "québec"), …]."""
    return [
        (word, unicodedata.normalize("NFC", text[t.start : t.end]).casefold())
        for t in _tokens(unicodedata.normalize("NFC", text))
        for word in t.words
        if word not in STOP_WORDS
    ]


def _found(tokens: Sequence[_Token], alternatives: set[str]) -> list[set[str]]:
    """For each token, the query alternatives (stems, or phrases of stems) it is part of."""
    sequence = [(i, stem(w)) for i, token in enumerate(tokens) for w in token.words if w not in STOP_WORDS]
    phrases: dict[str, list[Phrase]] = {}
    for alternative in alternatives:
        phrase = tuple(alternative.split())
        if phrase:
            phrases.setdefault(phrase[0], []).append(phrase)
    found: list[set[str]] = [set() for _ in tokens]
    for k, (_, first) in enumerate(sequence):
        for phrase in phrases.get(first, ()):
            run = sequence[k : k + len(phrase)]
            if tuple(s for _, s in run) == phrase:
                for i, _ in run:
                    found[i].add(" ".join(phrase))
    return found


def _best_window(found: Sequence[set[str]], size: int) -> tuple[int, int]:
    """Where the `size`-token window showing the most distinct alternatives starts, and how many.

    Among equally good windows, the one whose first match comes after a few words of context.
    One pass: the window slides, counting what enters and what leaves.
    """
    lead = size // 5
    matched = [i for i, alternatives in enumerate(found) if alternatives]
    counts: dict[str, int] = {}
    total = 0

    def add(alternatives: set[str], step: int) -> None:
        nonlocal total
        for alternative in alternatives:
            counts[alternative] = counts.get(alternative, 0) + step
            if counts[alternative] == 0:
                del counts[alternative]
        total += step * len(alternatives)

    for alternatives in found[:size]:
        add(alternatives, 1)
    best_start, best = 0, (-1, -1, 0)
    next_match = 0
    for start in range(max(1, len(found) - size + 1)):
        if start:
            add(found[start - 1], -1)
            add(found[start + size - 1], 1)
        while next_match < len(matched) and matched[next_match] < start:
            next_match += 1
        first = matched[next_match] - start if next_match < len(matched) else 0
        score = (len(counts), total, -abs(first - lead) if first < size else 0)
        if score > best:
            best_start, best = start, score
    return best_start, best[0]


def highlight(text: str, alternatives: set[str], size: int = SNIPPET_WORDS) -> tuple[str, int]:
    """The best passage of about `size` words, matched words in <mark>, the rest HTML-escaped.

    `alternatives` are what `expand` gives a query (stems, and phrases as space-joined stems);
    a phrase is marked only where its words follow each other. The text is shown as it is (pass
    Markdown through `plain` first). Returns the snippet and how many distinct alternatives it
    shows, so the best of several texts (summary, body) can be chosen.
    """
    text = _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()
    tokens = list(_tokens(text))
    if not tokens:
        return html.escape(text), 0
    found = _found(tokens, alternatives)
    start, distinct = _best_window(found, size)
    window = tokens[start : start + size]
    begin = 0 if start == 0 else window[0].start
    end = len(text) if start + size >= len(tokens) else window[-1].end
    parts = ["…"] if begin else []
    position = begin
    for token, matched in zip(window, found[start : start + size], strict=True):
        if matched:
            parts.append(html.escape(text[position : token.start]))
            parts.append(f"<mark>{html.escape(text[token.start : token.end])}</mark>")
            position = token.end
    parts.append(html.escape(text[position:end]))
    if end < len(text):
        parts.append("…")
    return "".join(parts), max(distinct, 0)


def snippet(texts: Sequence[str], alternatives: set[str], size: int = SNIPPET_WORDS) -> str:
    """The best of these texts (in order of preference) for a hit, highlighted; "" when all are empty."""
    best, best_score = "", -1
    for text in texts:
        if not text.strip():
            continue
        candidate, score = highlight(text, alternatives, size)
        if score > best_score:
            best, best_score = candidate, score
    return best
