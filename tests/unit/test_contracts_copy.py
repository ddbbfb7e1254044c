"""tests/contracts is a byte-for-byte copy of the workplace's shared/contracts (see its README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CONTRACTS, REPO

SHARED = REPO.parent / "shared" / "contracts"
OWN_FILES = {"README.md"}  # the copy's own note; everything else must come from shared/contracts


def files_under(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is not present on this machine")


def test_the_copy_has_exactly_the_shared_files() -> None:
    assert files_under(CONTRACTS) - OWN_FILES == files_under(SHARED)


# parametrized over the repository's own copy, so the suite collects the same tests with or without shared/ (the
# README's test count is checked against a whole-suite run); a file missing from either side fails the test above
@pytest.mark.parametrize("relative", sorted(files_under(CONTRACTS) - OWN_FILES))
def test_each_file_is_byte_for_byte_identical(relative: str) -> None:
    assert (CONTRACTS / relative).read_bytes() == (SHARED / relative).read_bytes()
