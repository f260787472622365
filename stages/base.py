"""The shape every per-document curation step takes.

A step never discards a document: a rejected document is marked with ``(stage, reason)`` in its
metadata and passed on, later steps let it through untouched, and the writer at the end of the
pipeline routes it to ``removed/``. That keeps "docs in = kept + removed" true by construction.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

REMOVED_KEY = "removed"


def is_removed(doc: Document) -> bool:
    return REMOVED_KEY in doc.metadata


def mark_removed(doc: Document, stage: str, reason: str) -> None:
    doc.metadata[REMOVED_KEY] = {"stage": stage, "reason": reason}


def record_failed_rule(doc: Document, rule: str, value, threshold) -> None:
    """``meta.filter``: the rule a document failed, its measured value and the threshold, for ``critmix explain``."""
    value = round(value, 4) if isinstance(value, float) else value
    doc.metadata.setdefault("meta", {})["filter"] = {
        "rule": rule,
        "value": value,
        "threshold": threshold,
    }


class CurationFilter(PipelineStep):
    """A step that may reject or annotate each document.

    Subclasses set ``name`` (the stage name in ``removed/``) and implement ``check``, which may
    add metadata and returns ``None`` to keep the document or a reason such as
    ``"gopher:min_stop_words"`` to remove it, through ``reject`` where a measured value crossed a
    threshold. ``check`` sees only documents of ``domains`` (empty: every domain); ``annotate``
    sees every document, for metadata that all of them carry. Counters: ``kept`` and
    ``removed:<reason>``.
    """

    type = "🧹 CURATE"

    def __init__(self, domains: Sequence[str] = ()):
        super().__init__()
        self.domains = frozenset(
            domains
        )  # the domains whose documents this filter may remove; empty: all

    def annotate(self, doc: Document) -> None:
        """Metadata for every document, in ``domains`` or not; none unless a subclass adds it."""

    def applies_to(self, doc: Document) -> bool:
        return not self.domains or doc.metadata.get("domain") in self.domains

    @abstractmethod
    def check(self, doc: Document) -> str | None: ...

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            if not is_removed(doc):
                with self.track_time():
                    self.annotate(doc)
                    reason = self.check(doc) if self.applies_to(doc) else None
                if reason is None:
                    self.stat_update("kept")
                else:
                    mark_removed(doc, self.name, reason)
                    self.stat_update(f"removed:{reason}")
            yield doc

    def reject(self, doc: Document, reason: str, value, threshold) -> str:
        """Record rule ``<name>:<reason>`` as failed by ``value`` against ``threshold``; return ``reason`` for ``check``."""
        record_failed_rule(doc, f"{self.name}:{reason}", value, threshold)
        return reason
