"""Stripe: ``Stripe-Signature`` verification and invoice / payment / refund normalization."""

from ledgerlink.connectors.sources.traits import SourceTraits

TRAITS = SourceTraits(order=10, webhook=True, api=True,
                      document_types=("invoice", "credit_note", "payment", "payout", "write_off", "reversal",
                                      "subscription_event", "usage_batch"))
