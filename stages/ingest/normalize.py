"""Text normalization: Unicode NFC, line endings, control characters; empty documents removed."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

import xxhash
from datatrove.data import Document

from stages.base import CurationFilter

# C0/C1 control characters except tab and newline, which carry layout.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_BLANK_RUNS = re.compile(r"\n{3,}")


UnicodeForm = Literal["NFC", "NFD", "NFKC", "NFKD"]  # the forms unicodedata.normalize takes


@dataclass
class NormalizeConfig:
    unicode_form: UnicodeForm = "NFC"
    min_chars: int = 1
    max_chars: int = 5_000_000


def normalize_text(text: str, unicode_form: UnicodeForm = "NFC") -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize(unicode_form, text)
    text = _CONTROL.sub("", text)
    text = _TRAILING_SPACE.sub("\n", text)
    return _BLANK_RUNS.sub("\n\n", text).strip()


def text_hash(text: str) -> int:
    """The exact-dedup key of a normalized text."""
    return xxhash.xxh64_intdigest(text)


class Normalizer(CurationFilter):
    name = "normalize"

    def __init__(self, config: NormalizeConfig):
        super().__init__()
        self.config = config

    def check(self, doc: Document) -> str | None:
        doc.text = normalize_text(doc.text, self.config.unicode_form)
        if len(doc.text) < self.config.min_chars:
            return "empty" if not doc.text else "too_short"
        if len(doc.text) > self.config.max_chars:
            return "too_long"
        doc.metadata["text_hash"] = text_hash(doc.text)
        return None
