"""Every link and repository path the README, the CHANGELOG and docs/ name exists, and they cite nothing outside the
repository: a newcomer who follows any of them lands somewhere.

Checked in each document (code blocks excluded, where paths are examples of the reader's own files):

- relative markdown links and images: the file or folder exists, and a ``#fragment`` names a heading (GitHub's
  anchor rules) or an explicit ``<a id>`` of the target; links outside the repository (``http:``, ``mailto:``) are
  refused, the docs must be self-contained;
- backticked repository paths: a code span without spaces whose first segment is a top-level entry of the
  repository or a package of ``layers/ledgerlink`` (``service/poll.py`` is read as the library's); ``<placeholder>``
  segments match any name, ``{a,b}`` expands and ``module.Name`` is read as ``module.py``; a ``.md`` file named
  alone must exist;
- ``make <target>`` in any code: the Makefile has that target;
- no citation of documents the repository does not hold (the team's ``DESIGN.md`` / ``STYLE.md``, "issue 3");
- every runbook (the sections under "Troubleshooting" in ``docs/operations.md``) is one click from the README;
- the example configuration files name only repository paths that exist (a word with a file suffix, or starting with
  a top-level folder; URLs, Secrets Manager names and time zones are not paths).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import REPO

DOCUMENTS = sorted([REPO / "README.md", REPO / "CHANGELOG.md", *(REPO / "docs").glob("*.md")])
CONFIG_FILES = sorted((REPO / "config").glob("*.yaml"))
LIBRARY = REPO / "layers" / "ledgerlink"
# Generated, installed or local-state entries: never part of a clone, so never a path the docs may promise.
NOT_IN_A_CLONE = {"node_modules", "build", "cdk.out"}
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)
EXPLICIT_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
FILE_SUFFIXES = {"py", "json", "yaml", "yml", "md", "toml", "lock", "txt", "csv", "xml", "sh", "beancount", "svg",
                 "js", "cfg", "ini", "xsd", "bai2", "log"}
MAKE = re.compile(r"\bmake ([a-z][a-z0-9-]*)")


def relative(path: Path) -> str:
    return str(path.relative_to(REPO))


def without_code(text: str) -> str:
    return CODE_SPAN.sub("", FENCE.sub("", text))


def code_spans(text: str) -> list[str]:
    return [match.group(2).strip() for match in CODE_SPAN.finditer(FENCE.sub("", text))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)          # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").lower()
    kept = "".join(char for char in text
                   if char in " -_" or unicodedata.category(char)[0] in "LN")
    return kept.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    found: set[str] = set(EXPLICIT_ANCHOR.findall(text))
    seen: dict[str, int] = {}
    for match in HEADING.finditer(text):
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def link_problems(document: Path) -> list[str]:
    problems = []
    for target in LINK.findall(without_code(document.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            problems.append(f"{target}: links outside the repository are not allowed (describe, don't link)")
            continue
        path_part, _, fragment = target.partition("#")
        destination = (document.parent / path_part).resolve() if path_part else document
        if not destination.exists():
            problems.append(f"{target}: no such file or folder")
            continue
        if REPO not in destination.parents and destination != REPO:
            problems.append(f"{target}: outside the repository")
            continue
        if fragment:
            if destination.suffix != ".md":
                problems.append(f"{target}: a fragment can only name a heading of a markdown file")
            elif fragment not in anchors(destination):
                problems.append(f"{target}: {relative(destination)} has no heading with anchor #{fragment}")
    return problems


@cache
def repository_roots() -> frozenset[str]:
    top = {entry.name for entry in REPO.iterdir() if not entry.name.startswith(".") and entry.name not in NOT_IN_A_CLONE}
    library = {entry.name for entry in LIBRARY.iterdir() if entry.is_dir() and not entry.name.startswith("_")}
    return frozenset(top | library | {"ledgerlink"})


def expand_braces(path: str) -> list[str]:
    match = re.search(r"\{([^{}]*,[^{}]*)\}", path)
    if not match:
        return [path]
    return list(itertools.chain.from_iterable(
        expand_braces(path[:match.start()] + choice + path[match.end():]) for choice in match.group(1).split(",")))


def resolves(path: str, document: Path) -> bool:
    pattern = re.sub(r"<[^<>/]+>", "*", path).rstrip("/")
    bases = (REPO, REPO / "layers", LIBRARY, document.parent)
    return any(any(base.glob(pattern)) if "*" in pattern else (base / pattern).exists() for base in bases)


def path_candidates(span: str) -> list[str]:
    """The repository path a code span names, if it looks like one (else nothing)."""
    if any(char.isspace() for char in span) or "://" in span or span.startswith(("/", ".", "-", "~", "$")):
        return []
    if re.search(r"[=?@|*…]|\.\.\.", span):
        return []
    span = re.sub(r":(\d+|line)$", "", span).rstrip(".,;:")
    if "/" not in span:
        return [span] if span.endswith(".md") else []
    if span.split("/", 1)[0] not in repository_roots():
        return []
    head, _, last = span.rpartition("/")
    attribute = re.fullmatch(r"(\w+)\.([A-Za-z_]\w*)", last)
    if attribute and attribute.group(2) not in FILE_SUFFIXES:   # service/fetch.SourceFetcher: a name in fetch.py
        span = f"{head}/{attribute.group(1)}.py"
    return expand_braces(span)


def path_problems(document: Path) -> list[str]:
    problems = []
    for span in code_spans(document.read_text(encoding="utf-8")):
        for path in path_candidates(span):
            if not resolves(path, document):
                problems.append(f"`{span}`: {path} is not in the repository")
    return problems


@cache
def make_targets() -> frozenset[str]:
    return frozenset(re.findall(r"^([a-z][a-z0-9-]*):", (REPO / "Makefile").read_text(encoding="utf-8"), re.M))


def make_problems(document: Path) -> list[str]:
    text = document.read_text(encoding="utf-8")
    code = "\n".join(match.group(0) for match in FENCE.finditer(text)) + "\n" + "\n".join(code_spans(text))
    return [f"make {target}: no such Makefile target" for target in sorted(set(MAKE.findall(code)))
            if target not in make_targets()]


def citation_problems(document: Path) -> list[str]:
    text = document.read_text(encoding="utf-8")
    problems = [f"cites {name}, which is not in the repository" for name in ("DESIGN.md", "STYLE.md")
                if name in text and not (REPO / name).exists()]
    problems += [f"cites {match.group(0)!r}: issues are not in the repository; say what was asked instead"
                 for match in re.finditer(r"\b[Ii]ssues?[- ]\d+", text)]
    return problems


def config_path_problems(path: Path) -> list[str]:
    text = re.sub(r"\S+://\S+", "", path.read_text(encoding="utf-8"))
    top = {entry.name for entry in REPO.iterdir() if entry.is_dir() and entry.name not in NOT_IN_A_CLONE}
    problems = []
    for word in sorted(set(re.findall(r"[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)+/?", text))):
        suffix = word.rsplit("/", 1)[-1].rpartition(".")[2]
        if (suffix in FILE_SUFFIXES or word.split("/", 1)[0] in top) and not (REPO / word).exists():
            problems.append(f"{word} is not in the repository (name paths from the repository root)")
    return problems


@pytest.mark.parametrize("config", CONFIG_FILES, ids=relative)
def test_the_example_configuration_names_only_paths_that_exist(config: Path) -> None:
    assert config_path_problems(config) == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=relative)
def test_every_relative_link_lands_on_an_existing_file_and_heading(document: Path) -> None:
    assert link_problems(document) == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=relative)
def test_every_repository_path_a_document_names_exists(document: Path) -> None:
    assert path_problems(document) == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=relative)
def test_every_make_target_a_document_names_exists(document: Path) -> None:
    assert make_problems(document) == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=relative)
def test_no_document_cites_what_the_repository_does_not_hold(document: Path) -> None:
    assert citation_problems(document) == []


def test_every_runbook_is_one_click_from_the_front_page() -> None:
    # Given the runbooks: the sections under "Troubleshooting" in the operations runbook
    operations = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    troubleshooting = operations[operations.index("\n## Troubleshooting"):]
    runbooks = {slug(title) for title in re.findall(r"^### (.+)$", troubleshooting, re.M)}
    # When the README's links are read
    linked = {target.partition("#")[2] for target in LINK.findall(without_code((REPO / "README.md").read_text()))
              if target.startswith("docs/operations.md#")}
    # Then each runbook has a link of its own on the front page
    assert len(runbooks) >= 10
    assert runbooks - linked == set()


def test_the_architecture_picture_is_well_formed_svg_with_a_text_alternative() -> None:
    # Given the picture the README shows
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.parse(REPO / "docs" / "architecture.svg").getroot()
    namespace = "{http://www.w3.org/2000/svg}"
    # Then it is SVG with a title and a description, and the same picture is in text in docs/architecture.md
    assert root.tag == f"{namespace}svg"
    assert root.find(f"{namespace}title") is not None and root.find(f"{namespace}desc") is not None
    assert "](architecture.svg)" in (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert "](docs/architecture.svg)" in (REPO / "README.md").read_text(encoding="utf-8")


def test_paths_are_read_as_the_docs_write_them() -> None:
    # Given the shapes the docs use: library-relative paths, placeholders, brace lists, module.Name, S3 prefixes
    decisions = REPO / "docs" / "decisions.md"
    # Then library paths, placeholders and brace lists resolve; prefixes and local state are not repository paths
    assert resolves("connectors/sources/<kind>/webhook.py", decisions)
    assert resolves("workflow/happy_path.asl.json", decisions)
    assert path_candidates("pipeline/{route,fx}.py") == ["pipeline/route.py", "pipeline/fx.py"]
    assert path_candidates("service/fetch.SourceFetcher") == ["service/fetch.py"]
    assert path_candidates("bank-inbox/<source>/") == []
    assert path_candidates(".ledgerlink/local/lambda.log") == []
    assert not resolves("layers/ledgerlink/service/nothing_here.py", decisions)
    # and anchors follow GitHub's rules
    assert slug("The `make demo` summary — what it prints (D82)") == "the-make-demo-summary--what-it-prints-d82"
    assert "what-make-demo-prints" in anchors(REPO / "README.md")


def test_each_kind_of_broken_reference_is_reported(tmp_path: Path) -> None:
    # Given a document with a missing file, a missing anchor, an external link, a missing path, an outside document,
    # a missing make target and an issue citation, and a configuration naming a path that does not exist
    broken = tmp_path / "broken.md"
    broken.write_text("[a](missing.md) [b](#nowhere) [c](https://example.com) `tests/nothing/here.py` `DESIGN.md`\n"
                      "```\nmake no-such-target\n```\nissue 3\n", encoding="utf-8")
    config = tmp_path / "example.yaml"
    config.write_text("# see config/erps.py and layers/ledgerlink/config/erps.py\nsecret_id: ledgerlink/erp/x\n"
                      "time_zone: Europe/London\nurl: https://example.com/a/b.json\n", encoding="utf-8")
    # When they are checked, then each is reported, and nothing else
    assert len(link_problems(broken)) == 3
    assert path_problems(broken) == ["`tests/nothing/here.py`: tests/nothing/here.py is not in the repository",
                                     "`DESIGN.md`: DESIGN.md is not in the repository"]
    assert make_problems(broken) == ["make no-such-target: no such Makefile target"]
    assert len(citation_problems(broken)) == 2
    assert config_path_problems(config) == [
        "config/erps.py is not in the repository (name paths from the repository root)"]
