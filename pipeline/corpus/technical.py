"""Converters of the technical sources: ScanCode licence texts, Sphinx documentation sources, Python files,
and the SpamAssassin e-mails. Each takes an archive path and yields ``{"id", "text", "meta"}`` dicts."""

from __future__ import annotations

import email
import email.errors
import email.header
import html
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from pipeline.corpus.archives import archive_members

Document = dict

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
