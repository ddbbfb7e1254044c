"""What a closed-won deal posts, whichever CRM sent it (Salesforce opportunities, HubSpot deals): a CustomerEvent for
the customer (master data, no journal) and a ContractEvent for the contract (the memorandum booking), both from the
same notification and linked. Each CRM connector reads its own payload into a :class:`ClosedWon`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from pydantic import ValidationError

from ledgerlink.config.model import Entity
from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.errors import NormalizationError
from ledgerlink.model.documents import ContractEvent, CustomerEvent, Party, SourceRef
from ledgerlink.model.money import Money


@dataclass(frozen=True, slots=True)
class ClosedWon:
    """One closed-won deal as a CRM connector read it."""

    system: str                      # "salesforce", "hubspot"
    customer_type: str               # the customer's object type there ("account", "company", "contact")
    customer_id: str
    external_ids: dict[str, str]     # the customer's id under the CRM's identity key
    customer_memo: str
    contract_type: str               # "opportunity", "deal"
    contract_id: str
    contract_memo: str
    what: str                        # names the deal in errors ("deal 123", "Opportunity 006...")
    event_id: str | None
    event_type: str
    account: str                     # the CRM org / portal
    total: Money
    occurred: datetime
    signed_on: date


def closed_won_documents(deal: ClosedWon, entity: Entity, ctx: NormalizeContext) -> list[CustomerEvent | ContractEvent]:
    """The customer and contract documents of ``deal`` (``invalid_document`` when either does not validate)."""
    def ref(object_type: str, object_id: str, version: str) -> SourceRef:
        return SourceRef(system=deal.system, object_type=object_type, object_id=object_id, version=version,
                         event_id=deal.event_id, event_type=deal.event_type, account=deal.account,
                         archive_key=ctx.archive_key, source_id=ctx.source_id)

    customer_ref = ref(deal.customer_type, deal.customer_id, "1")
    contract_ref = ref(deal.contract_type, deal.contract_id, "closed_won")
    party = Party(role="customer", source_id=deal.customer_id)
    try:
        customer = CustomerEvent(
            document_id=customer_ref.document_id(), source=customer_ref, entity_id=entity.id,
            correlation_id=ctx.correlation_id, occurred_at=deal.occurred, accounting_date=deal.signed_on,
            currency=deal.total.currency, party=party, external_ids=deal.external_ids, memo=deal.customer_memo)
        contract = ContractEvent(
            document_id=contract_ref.document_id(), source=contract_ref, entity_id=entity.id,
            correlation_id=ctx.correlation_id, occurred_at=deal.occurred, accounting_date=deal.signed_on,
            currency=deal.total.currency, contract_id=deal.contract_id, party=party, total=deal.total,
            start_date=deal.signed_on, customer_document_id=customer.document_id,
            related_document_ids=(customer.document_id,), memo=deal.contract_memo)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise NormalizationError(f"{deal.what}: {first.get('msg')}", reason="invalid_document") from None
    return [customer, contract]
