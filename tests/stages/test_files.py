import pytest

from stages.files import atomic_path, atomic_write_text


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
