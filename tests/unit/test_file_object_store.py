"""The directory object store: names are checked lexically (no per-file realpath), listing walks the tree once."""

import pytest

from ledgerlink.store.objects import FileObjectStore


@pytest.mark.parametrize("name", ["../outside", "/etc/passwd", "a/../../b", "a//b", "./a", "a/", "", "a\0b", "a/./b"])
def test_names_that_could_leave_the_directory_are_refused(tmp_path, name):
    store = FileObjectStore(tmp_path / "store")
    with pytest.raises(ValueError, match="escapes the store directory"):
        store.create(name, b"x")
    assert not (tmp_path / "outside").exists()


def test_create_once_read_and_list_by_prefix_without_temporary_files(tmp_path):
    store = FileObjectStore(tmp_path / "store")
    assert store.names("postings") == []                       # nothing there yet, no error
    assert store.create("postings/2026/b.beancount", b"B") is True
    assert store.create("postings/a.beancount", b"A") is True
    assert store.create("postings/a.beancount", b"changed") is False   # create-once keeps the first
    store.write("other/c.txt", b"C")
    (tmp_path / "store" / "postings" / ".tmp-half-written").write_bytes(b"?")
    assert store.read("postings/a.beancount") == b"A"
    assert store.read("postings/missing") is None
    assert store.names("postings") == ["postings/2026/b.beancount", "postings/a.beancount"]
    assert store.names("postings/") == ["postings/2026/b.beancount", "postings/a.beancount"]
    assert store.names("") == ["other/c.txt", "postings/2026/b.beancount", "postings/a.beancount"]
    assert store.location("postings/a.beancount") == str((tmp_path / "store" / "postings" / "a.beancount").resolve())
    store.delete("other/c.txt")
    assert store.names("other") == []


def test_a_store_rooted_behind_a_symlink_lists_relative_names(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    store = FileObjectStore(tmp_path / "link")
    store.create("x/y.json", b"{}")
    assert (tmp_path / "real" / "x" / "y.json").read_bytes() == b"{}"
    assert store.names("x") == ["x/y.json"]
