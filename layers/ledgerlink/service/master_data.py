"""The post-document state machine's first step: master data before the transaction.

For each party the document references (employees first): employees must be known and active (HR data);
customers and vendors must exist in the ERP connection the document routes to. Policy ``create`` (the
default) creates them from the document; policy ``wait`` requires that a CRM event announced the party
first — until then the step raises :class:`MasterDataPending`, which the state machine retries on a
bounded schedule before opening ``master_data_missing``. The cross-reference (source id ↔ ERP id) is kept
per connection, so each party is created in each ERP once; while one execution creates it (it holds the
party's claim), another that references the same new party (a second bill of the vendor in the same batch)
waits with a :class:`TransientError` that the state machine retries, and then finds the cross-reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.errors import MasterDataPending, TransientError
from ledgerlink.model.documents import DocumentAdapter, Party
from ledgerlink.model.posting import PostingState
from ledgerlink.pipeline.master_data import check_employee, parties_of

if TYPE_CHECKING:
    from ledgerlink.model.json import JsonObject
    from ledgerlink.service.posting import ConnectorFactory, VersionedConfig


class PartiesPort(Protocol):
    def announced(self, role: str, system: str, source_id: str) -> Mapping[str, object] | None: ...
    def erp_id(self, role: str, system: str, source_id: str, connection_id: str) -> str | None: ...
    def record_erp_id(self, role: str, system: str, source_id: str, connection_id: str, erp_id: str, *,
                      entity_id: str) -> str: ...
    def claim_creation(self, role: str, system: str, source_id: str, connection_id: str, *, owner: str) -> bool: ...


def _announcement(parties: PartiesPort, party: Party, system: str) -> Mapping[str, object] | None:
    """The master-data event that introduced this party: under its own id, or under one of its external ids (a
    Stripe customer whose metadata names the HubSpot company / Salesforce account the CRM announced)."""
    for identity_system, identity in ((system, party.source_id), *sorted(party.external_ids.items())):
        found = parties.announced(party.role, identity_system, identity)
        if found is not None:
            return found
    return None


def master_data_step(state: JsonObject, config_store: VersionedConfig, connectors: ConnectorFactory,
                     parties: PartiesPort) -> JsonObject:
    """Check and create the document's parties; the state answered with ``parties`` (``role:id`` → ERP id of each
    party created or found for an ERP-native document)."""
    from ledgerlink.pipeline.route import route

    current = PostingState.parse(state)
    version = current.version
    config = config_store.get(version)
    document = DocumentAdapter.validate_python(current.document)
    system = document.source.system
    source_id = document.source.source_id or system
    connection_id = route(config, document.entity_id, document.accounting_date).connection_id
    # Parties exist in the ERP before a transaction that *references* them: ERP-native documents do; a journal
    # (line-level or a summary) carries no party, so creating customers for it would only spend ERP calls.
    policy = config.policy_for(source_id, document.document_type)
    referenced = policy.post_as == "document" and policy.mode == "line_level"
    synced: JsonObject = {}
    for party in parties_of(document):
        if party.role == "employee":
            check_employee(document, party, config, source_id)
            continue
        if config.master_data_policy(source_id, party.role) == "wait" and \
                parties.erp_id(party.role, system, party.source_id, connection_id) is None and \
                _announcement(parties, party, system) is None:
            raise MasterDataPending(
                f"{party.role} {party.source_id} is not known yet: waiting for its master-data event (CRM)",
                reason="master_data_missing", role=party.role, party=party.source_id,
                suggested_fix=f"create the {party.role} in the CRM (or set master_data policy to create), then retry")
        if referenced:
            synced[f"{party.role}:{party.source_id}"] = _ensure(
                party, system=system, source_id=source_id, entity_id=document.entity_id, connection_id=connection_id,
                config=config, version=version, connectors=connectors, parties=parties,
                owner=current.document_id or document.document_id)
    return current.extended(parties=synced)


def _ensure(party: Party, *, system: str, source_id: str, entity_id: str, connection_id: str,
            config: LedgerLinkConfig, version: int, connectors: ConnectorFactory, parties: PartiesPort,
            owner: str) -> str:
    known = parties.erp_id(party.role, system, party.source_id, connection_id)
    if known:
        return known
    announcement = _announcement(parties, party, system)
    if config.master_data_policy(source_id, party.role) == "wait" and announcement is None:
        raise MasterDataPending(
            f"{party.role} {party.source_id} is not known yet: waiting for its master-data event (CRM)",
            reason="master_data_missing", role=party.role, party=party.source_id,
            suggested_fix=f"create the {party.role} in the CRM (or set master_data policy to create), then retry")
    if not parties.claim_creation(party.role, system, party.source_id, connection_id, owner=owner):
        raise TransientError(f"{party.role} {party.source_id} is being created in {connection_id} by another "
                             "execution", reason="master_data_in_progress", role=party.role, party=party.source_id)
    if announcement and announcement.get("name") and not party.name:
        party = party.model_copy(update={"name": announcement["name"]})
    connector = connectors(config, connection_id, version)
    keeper = connector.as_party_keeper()   # the API ERPs and the Beancount book keep parties; others name them
    erp_id = keeper.ensure_party(party) if keeper is not None else f"{party.role}:{party.source_id}"
    return parties.record_erp_id(party.role, system, party.source_id, connection_id, erp_id, entity_id=entity_id)
