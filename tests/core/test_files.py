import json
import os
from pathlib import Path

import pytest

from core.files import (
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    remove_leftovers,
    write_json,
)


def test_a_finished_write_replaces_the_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "sub" / "out.txt"
    atomic_write_text(path, "old")
    atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.txt"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temp(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(ValueError):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise ValueError("killed mid-write")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_json_is_written_with_sorted_keys_a_final_newline_and_paths_as_text(tmp_path):
    path = tmp_path / "manifest.json"
    write_json(path, {"b": [1, 2], "a": {"out": Path("runs/x"), "z": 1, "y": None}})
    first = path.read_bytes()
    write_json(path, {"a": {"y": None, "z": 1, "out": Path("runs/x")}, "b": [1, 2]})
    assert path.read_bytes() == first and first.endswith(
        b"}\n"
    )  # the same data gives the same bytes
    assert json.loads(first) == {"a": {"out": "runs/x", "y": None, "z": 1}, "b": [1, 2]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_temporary_names_are_per_process_and_leftovers_are_removed(tmp_path):
    atomic_write_bytes(tmp_path / "a.bin", b"whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]
    # what a writer killed before its rename leaves; another process's writer would use another name
    killed = tmp_path / "deep" / f".b.bin.tmp-{os.getpid() + 1}"
    killed.parent.mkdir()
    killed.write_bytes(b"half")
    assert remove_leftovers(tmp_path) == 1
    assert not killed.exists() and (tmp_path / "a.bin").read_bytes() == b"whole"
