"""A source is one package: ``connectors/sources/<kind>/`` holds everything about it, and the rest of LedgerLink
(ingest, config, the local stack) discovers it. These tests hold every package to that shape and keep the local
stack free of source names."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from ledgerlink.connectors.sources import (
    API_KINDS,
    FILE_DROP_KINDS,
    POLLED_KINDS,
    SOURCE_KINDS,
    SOURCES,
    WEBHOOK_KINDS,
    api_module,
    normalize_module,
    package_module,
    webhook_module,
)
from ledgerlink.connectors.sources.local_stack import LocalSource

from tests.conftest import REPO

LAYER = REPO / "layers" / "ledgerlink"


def test_every_package_with_traits_is_a_kind_and_the_tuples_derive_from_them() -> None:
    on_disk = {p.parent.name for p in (LAYER / "connectors" / "sources").glob("*/__init__.py")}
    assert set(SOURCE_KINDS) == on_disk
    assert set(WEBHOOK_KINDS) == {kind for kind, traits in SOURCES.items() if traits.webhook}
    assert set(POLLED_KINDS) | set(WEBHOOK_KINDS) | set(FILE_DROP_KINDS) == set(SOURCE_KINDS)
    assert set(POLLED_KINDS) <= set(API_KINDS)
    # the order the configuration's Source union and every listing have always had; new kinds follow
    assert SOURCE_KINDS[:9] == ("stripe", "brex", "adyen", "salesforce", "ramp", "hubspot", "concur", "expensify",
                                "bank")


@pytest.mark.parametrize("kind", SOURCE_KINDS)
def test_each_package_has_the_modules_its_traits_promise(kind: str) -> None:
    traits = SOURCES[kind]
    assert callable(normalize_module(kind).normalize)
    assert traits.document_types
    if traits.webhook:
        assert callable(webhook_module(kind).verify_request)
    if traits.api:
        assert api_module(kind) is not None
    config = package_module(kind, "config")
    assert config is not None
    assert typing.get_args(config.MODEL.model_fields["kind"].annotation) == (kind,)
    local = package_module(kind, "local")
    if traits.webhook:
        assert local is not None and isinstance(local.LOCAL, LocalSource) and local.LOCAL.sign is not None


def test_the_configuration_union_has_every_packages_model() -> None:
    from ledgerlink.config.sources import Source, source_models

    union = typing.get_args(typing.get_args(Source)[0])
    assert union == source_models()
    assert [typing.get_args(model.model_fields["kind"].annotation)[0] for model in union] == list(SOURCE_KINDS)


def test_a_package_without_a_module_answers_none_and_an_unknown_kind_is_a_key_error() -> None:
    assert package_module("paddle", "fake_api") is None
    with pytest.raises(KeyError):
        package_module("no_such_kind", "local")


def test_the_fake_vendor_apis_come_from_the_packages(tmp_path: Path) -> None:
    from ledgerlink.local.fake_apis import generate_credentials, vendor_fakes

    assert set(vendor_fakes(tmp_path)) == {kind for kind in SOURCE_KINDS if package_module(kind, "fake_api")}
    with pytest.raises(KeyError):
        generate_credentials("paddle")          # LedgerLink calls no Paddle API


def test_local_secrets_take_the_form_the_package_says() -> None:
    from ledgerlink.local.secrets import generate

    assert generate("paddle").startswith("pdl_ntfset_")
    assert generate(None).startswith("whsec_")


def test_the_local_stack_names_no_source_kind() -> None:
    pattern = re.compile(r"\b(" + "|".join(SOURCE_KINDS) + r")\b", re.IGNORECASE)
    found = [f"{path.name}:{number}: {line.strip()}" for path in sorted((LAYER / "local").glob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert found == []


@pytest.mark.parametrize("kind", sorted(WEBHOOK_KINDS))
def test_every_webhook_module_declares_the_whole_contract(kind: str) -> None:
    """Ingest and replay read these as attributes, never probing the module: a new source declares each one."""
    module = webhook_module(kind)
    assert callable(module.verify_request) and callable(module.parse_events)
    assert isinstance(module.BODY_IS_EVENT, bool)
    assert module.parse_request is None or callable(module.parse_request)
    assert module.acknowledge is None or callable(module.acknowledge)


@pytest.mark.parametrize("kind", sorted(API_KINDS))
def test_every_api_module_says_whether_a_notification_wants_a_fetch(kind: str) -> None:
    module = api_module(kind)
    assert module is not None
    assert module.wants is None or callable(module.wants)
