"""Heuristic quality filters: Gopher quality, Gopher repetition, C4 quality and FineWeb quality.

The rules and default thresholds are datatrove's (``GopherQualityFilter``,
``GopherRepetitionFilter``, ``C4QualityFilter``, ``FineWebQualityFilter``), evaluated in that
order, and the first rule a document fails names the reason (``gopher:min_stop_words``,
``gopher_rep:dup_line_frac``, ``c4:curly_bracket``, ``fineweb:char_dup_ratio`` ...). The failing
value and its threshold go to ``meta.filter`` for ``critmix explain``. Every family can be
switched off with ``enabled: false`` and every threshold with ``null``.

Why it is faster than datatrove's chain: datatrove word-tokenizes each document with spaCy in
three filters and sentence-splits every line with spaCy in the C4 filter. Here each line is split
into words once (``Analysis``), with spaCy's own English rules but without building spaCy documents
and remembering every chunk already split (``stages/ingest/words.py``), and every rule reads that shared
result; C4's sentence count applies spaCy's sentencizer rule to the same words. So words, ratios and
sentence counts are datatrove's (``bench/bench_filters.py`` measures the keep/drop agreement, on
the demo corpus and on generated man pages, manuals and fortunes).
C4's line removal is applied to what FineWeb's rules see, as in datatrove's chain, but the
document is written whole unless ``c4.rewrite_text`` is set (later stages and the quality model
see documents as they came).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np
from datatrove.data import Document
from datatrove.utils.text import TERMINAL_PUNCTUATION

from stages.base import CurationFilter, record_failed_rule
from stages.ingest.ngrams import NgramKeys, repeated_ngram_chars, top_ngram_chars
from stages.ingest.normalize import text_hash
from stages.ingest.tokens import (
    DocumentWords,
    TokenTable,
    line_tokens,
    sentences_per_line,
    token_table,
)

PARAGRAPH_BREAK = re.compile(r"\n{2,}")
LINE_BREAKS = re.compile(r"\n+")
CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
C4_END_PUNCTUATION = (".", "?", "!", '"', "'")
POLICY_SUBSTRINGS = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)


@dataclass
class GopherQualityConfig:
    enabled: bool = True
    min_doc_words: int | None = 50
    max_doc_words: int | None = 100_000
    min_avg_word_length: float | None = 3
    max_avg_word_length: float | None = 10
    max_symbol_word_ratio: float | None = 0.1  # '#' and ellipses per word
    max_bullet_lines_ratio: float | None = 0.9
    max_ellipsis_lines_ratio: float | None = 0.3
    min_alpha_words_ratio: float | None = 0.8  # datatrove calls it max_non_alpha_words_ratio
    min_stop_words: int | None = 2
    stop_words: list[str] = field(
        default_factory=lambda: ["the", "be", "to", "of", "and", "that", "have", "with"]
    )


@dataclass
class GopherRepetitionConfig:
    enabled: bool = True
    dup_para_frac: float | None = 0.3
    dup_para_char_frac: float | None = 0.2
    dup_line_frac: float | None = 0.3
    dup_line_char_frac: float | None = 0.2
    top_n_grams: dict[int, float] = field(default_factory=lambda: {2: 0.2, 3: 0.18, 4: 0.16})
    dup_n_grams: dict[int, float] = field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
    )


@dataclass
class C4QualityConfig:
    enabled: bool = True
    remove_citations: bool = True
    filter_no_terminal_punct: bool = True
    min_num_sentences: int | None = 5
    min_words_per_line: int | None = 3
    max_word_length: int | None = 1000
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True
    rewrite_text: bool = False  # write documents with C4's dropped lines removed


@dataclass
class FineWebQualityConfig:
    enabled: bool = True
    line_punct_thr: float | None = 0.12
    line_punct_exclude_zero: bool = False
    short_line_thr: float | None = 0.67
    short_line_length: int = 30
    char_duplicates_ratio: float | None = 0.01
    new_line_ratio: float | None = 0.3


@dataclass
class HeuristicsConfig:
    # Off unless a recipe turns it on for the domains it suits: the rules are written for web
    # prose and would remove nearly all code, API docs and licence texts.
    enabled: bool = False
    domains: list[str] = field(default_factory=list)  # domains the rules apply to; empty: all
    gopher: GopherQualityConfig = field(default_factory=GopherQualityConfig)
    gopher_repetition: GopherRepetitionConfig = field(default_factory=GopherRepetitionConfig)
    c4: C4QualityConfig = field(default_factory=C4QualityConfig)
    fineweb: FineWebQualityConfig = field(default_factory=FineWebQualityConfig)


class Failed(Exception):
    """A rule a document fails: its name, the measured value and the threshold it crossed."""

    def __init__(self, rule: str, value, threshold):
        super().__init__(rule)
        self.rule, self.value, self.threshold = rule, value, threshold


def at_most(rule: str, value, limit) -> None:
    if limit is not None and value > limit:
        raise Failed(rule, value, limit)


def at_least(rule: str, value, limit) -> None:
    if limit is not None and value < limit:
        raise Failed(rule, value, limit)


def duplicates(items: list[str]) -> tuple[int, int]:
    """Items seen before and their characters (datatrove's ``find_duplicates``): what the items hold
    beyond one of each."""
    distinct = set(items)
    return len(items) - len(distinct), sum(map(len, items)) - sum(map(len, distinct))


class HeuristicFilters(CurationFilter):
    name = "heuristics"

    def __init__(self, config: HeuristicsConfig):
        super().__init__(config.domains)
        self.config = config
        self.stop_words = frozenset(config.gopher.stop_words)
        self.terminal = tuple(TERMINAL_PUNCTUATION)

    @property
    def table(self) -> TokenTable:
        """One per process, built where the filter runs (an executor's worker), never pickled with it."""
        return token_table()

    def check(self, doc: Document) -> str | None:
        try:
            kept_lines = self.evaluate(DocumentWords(doc.text, self.table))
        except Failed as failed:
            record_failed_rule(doc, failed.rule, failed.value, failed.threshold)
            return failed.rule
        if kept_lines is not None and self.config.c4.rewrite_text:
            doc.text = "\n".join(kept_lines).strip()
            doc.metadata["text_hash"] = text_hash(doc.text)
        return None

    def evaluate(self, doc: DocumentWords) -> list[str] | None:
        """Raise ``Failed`` at the first rule the document fails; return C4's kept lines."""
        config = self.config
        if config.gopher.enabled:
            self.gopher_quality(doc, config.gopher)
        if config.gopher_repetition.enabled:
            self.gopher_repetition(doc, config.gopher_repetition)
        if not config.c4.enabled:
            if config.fineweb.enabled:
                self.fineweb_quality(doc.text, len(doc.tokens), config.fineweb)
            return None
        kept, kept_words = self.c4_quality(doc, config.c4)
        if config.fineweb.enabled:
            # FineWeb's rules see the text as C4 leaves it, as in datatrove's chain.
            self.fineweb_quality("\n".join(kept).strip(), kept_words, config.fineweb)
        return kept

    def gopher_quality(self, doc: DocumentWords, config: GopherQualityConfig) -> None:
        text, table = doc.text, doc.table
        non_symbol = doc.property(table.non_symbol)
        n_non_symbol = int(np.count_nonzero(non_symbol))
        at_least("gopher:min_doc_words", n_non_symbol, config.min_doc_words)
        at_most("gopher:max_doc_words", n_non_symbol, config.max_doc_words)
        n_words = max(1, len(doc.tokens))
        if n_non_symbol:
            mean_length = int(doc.property(table.length)[non_symbol].sum()) / n_non_symbol
            at_least("gopher:min_avg_word_length", mean_length, config.min_avg_word_length)
            at_most("gopher:max_avg_word_length", mean_length, config.max_avg_word_length)
        at_most(
            "gopher:max_hash_word_ratio", text.count("#") / n_words, config.max_symbol_word_ratio
        )
        ellipses = text.count("...") + text.count("…")
        at_most("gopher:max_ellipsis_word_ratio", ellipses / n_words, config.max_symbol_word_ratio)
        n_lines = max(1, len(doc.lines))
        bullets = sum(map(str.startswith, map(str.lstrip, doc.lines), repeat(("•", "-"))))
        at_most("gopher:max_bullet_lines_ratio", bullets / n_lines, config.max_bullet_lines_ratio)
        ellipsis_ends = sum(map(str.endswith, map(str.rstrip, doc.lines), repeat(("...", "…"))))
        at_most(
            "gopher:max_ellipsis_lines_ratio",
            ellipsis_ends / n_lines,
            config.max_ellipsis_lines_ratio,
        )
        alpha = int(np.count_nonzero(doc.property(table.alpha)))
        at_least("gopher:min_alpha_words_ratio", alpha / n_words, config.min_alpha_words_ratio)
        at_least("gopher:min_stop_words", self.stop_words_present(doc), config.min_stop_words)

    def stop_words_present(self, doc: DocumentWords) -> int:
        """Distinct stop words in the document, counted only until there are enough (the rule then passes)."""
        enough, present = self.config.gopher.min_stop_words or 0, 0
        for word in self.stop_words:
            id_ = doc.table.token_ids.get(word)
            if id_ is not None and (doc.tokens == id_).any():
                present += 1
                if present >= enough:
                    break
        return present

    def gopher_repetition(self, doc: DocumentWords, config: GopherRepetitionConfig) -> None:
        text = doc.text
        n_chars = max(1, len(text))
        paragraphs = PARAGRAPH_BREAK.split(text.strip())
        count, chars = duplicates(paragraphs)
        at_most("gopher_rep:dup_para_frac", count / len(paragraphs), config.dup_para_frac)
        at_most("gopher_rep:dup_para_char_frac", chars / n_chars, config.dup_para_char_frac)
        lines = LINE_BREAKS.split(text)
        count, chars = duplicates(lines)
        at_most("gopher_rep:dup_line_frac", count / len(lines), config.dup_line_frac)
        at_most("gopher_rep:dup_line_char_frac", chars / n_chars, config.dup_line_char_frac)
        n_words = len(doc.tokens)
        lengths = doc.property(doc.table.length)
        ngram_keys = NgramKeys(doc.tokens)
        for n, limit in sorted(config.top_n_grams.items()):
            if limit is not None and n_words >= n:
                top = top_ngram_chars(ngram_keys(n), lengths, n)
                at_most(f"gopher_rep:top_{n}_gram", top / n_chars, limit)
        for n, limit in sorted(config.dup_n_grams.items()):
            if limit is not None and n_words >= n:
                # a hair under the limit, so that float rounding cannot pass a bound above it
                enough = limit * n_chars * (1 - 1e-9)
                repeated = repeated_ngram_chars(ngram_keys(n), lengths, n, enough)
                at_most(f"gopher_rep:dup_{n}_gram", repeated / n_chars, limit)
                if not repeated:
                    return  # no n-gram repeats, so no longer one does

    def c4_quality(self, doc: DocumentWords, config: C4QualityConfig) -> tuple[list[str], int]:
        """C4's kept lines and their word count; raises on a rule that drops the whole page."""
        roles = doc.property(doc.table.role)
        line_sentences = sentences_per_line(roles, doc.line_bounds).tolist()
        line_words = np.diff(doc.line_bounds).tolist()
        kept, kept_words, sentences = [], 0, 0
        for i, (raw, words) in enumerate(zip(doc.lines, doc.line_chunks)):
            line = raw.strip()
            too_long = config.max_word_length
            if (
                too_long is not None
                and len(line) > too_long
                and any(len(w) > too_long for w in words)
            ):
                continue
            cited = 0
            if config.remove_citations and "[" in line:
                line, cited = CITATION.subn("", line)
            if config.filter_no_terminal_punct and (
                not line.endswith(C4_END_PUNCTUATION) or line.endswith("...")
            ):
                continue
            if config.min_words_per_line is not None and len(words) < config.min_words_per_line:
                continue
            lowered = line.lower()
            if config.filter_lorem_ipsum and "lorem ipsum" in lowered:
                raise Failed("c4:lorem_ipsum", 1, 0)
            if config.filter_javascript and "javascript" in lowered:
                continue
            if config.filter_curly_bracket and "{" in line:
                raise Failed("c4:curly_bracket", 1, 0)
            if config.filter_policy and any(p in lowered for p in POLICY_SUBSTRINGS):
                continue
            if cited:  # the words of the line as C4 leaves it
                tokens = line_tokens(doc.table, line)
                bounds = np.array([0, len(tokens)])
                sentences += int(sentences_per_line(doc.table.role.values[tokens], bounds)[0])
                kept_words += len(tokens)
            else:
                sentences += line_sentences[i]
                kept_words += line_words[i]
            kept.append(line)
        at_least("c4:min_num_sentences", sentences, config.min_num_sentences)
        return kept, kept_words

    def fineweb_quality(self, text: str, n_words: int, config: FineWebQualityConfig) -> None:
        lines = [line for line in text.split("\n") if line.strip()]
        if not lines:
            raise Failed("fineweb:empty", 0, 1)
        ratio = sum(map(str.endswith, lines, repeat(self.terminal))) / len(lines)
        if not (ratio == 0 and config.line_punct_exclude_zero):
            at_least("fineweb:line_punct_ratio", ratio, config.line_punct_thr)
        short = sum(len(line) <= config.short_line_length for line in lines) / len(lines)
        at_most("fineweb:short_line_ratio", short, config.short_line_thr)
        at_most(
            "fineweb:char_dup_ratio",
            duplicates(lines)[1] / max(1, len(text) - text.count("\n")),
            config.char_duplicates_ratio,
        )
        at_most("fineweb:list_ratio", text.count("\n") / max(1, n_words), config.new_line_ratio)
