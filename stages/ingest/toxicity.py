"""An optional toxicity/safety filter (off by default), after "A Pretrainer's Guide to Training Data".

Driven by a word list (one word per line, ``#`` starts a comment), a fastText classifier given by
path, or both: a document is removed when listed words make up more than ``max_word_fraction`` of
its words, or when the model's probability of ``model_label`` reaches ``model_threshold``. The
value and threshold that removed it go to ``meta.filter`` for ``critmix explain``; the report
shows removals per domain from ``removed/stage=toxicity/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from datatrove.data import Document

from core.errors import ConfigError
from stages.base import CurationFilter
from stages.quality.examples import model_input
from stages.quality.scores import positive_probabilities

WORD = re.compile(r"\w+")


@dataclass
class ToxicityConfig:
    enabled: bool = False
    word_list: str | None = None
    max_word_fraction: float = 0.01
    model_path: str | None = None
    model_label: str = "__label__toxic"
    model_threshold: float = 0.5
    max_chars: int = 4000  # text the model sees per document
    domains: list[str] = field(
        default_factory=list
    )  # domains whose documents may be removed; empty: all


def load_words(path: str) -> frozenset[str]:
    if not Path(path).is_file():
        raise ConfigError(
            f"curate.toxicity.word_list {path} does not exist; give a text file with one word per line"
        )
    lines = (
        line.split("#", 1)[0].strip().lower()
        for line in Path(path).read_text(encoding="utf-8").splitlines()
    )
    return frozenset(word for word in lines if word)


class ToxicityFilter(CurationFilter):
    name = "toxicity"

    def __init__(self, config: ToxicityConfig):
        super().__init__(config.domains)
        if not (config.word_list or config.model_path):
            raise ConfigError(
                "toxicity is enabled but has nothing to judge by: set curate.toxicity.word_list to a word "
                "list file or curate.toxicity.model_path to a fastText model"
            )
        if config.model_path and not Path(config.model_path).is_file():
            raise ConfigError(
                f"curate.toxicity.model_path {config.model_path} does not exist; give a fastText .bin/.ftz model"
            )
        self.config = config
        self.words = load_words(config.word_list) if config.word_list else frozenset()
        self.model = None  # loaded in the worker: fastText models do not pickle

    def check(self, doc: Document) -> str | None:
        self.stat_update(f"checked:{doc.metadata.get('domain')}")
        if self.words:
            words = WORD.findall(doc.text.lower())
            fraction = sum(word in self.words for word in words) / max(1, len(words))
            if fraction > self.config.max_word_fraction:
                return self.reject(doc, "word_list", fraction, self.config.max_word_fraction)
        if self.config.model_path:
            probability = float(self.classifier_probability(doc.text))
            if probability >= self.config.model_threshold:
                return self.reject(doc, "model", probability, self.config.model_threshold)
        return None

    def classifier_probability(self, text: str) -> float:
        if self.model is None:
            import fasttext

            self.model = fasttext.load_model(self.config.model_path)
        return positive_probabilities(
            self.model, [model_input(text, self.config.max_chars)], self.config.model_label
        )[0]

    def reject(self, doc: Document, reason: str, value: float, threshold: float) -> str:
        self.stat_update(f"flagged:{doc.metadata.get('domain')}")
        return super().reject(doc, reason, value, threshold)
