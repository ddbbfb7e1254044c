"""Stripe: ``Stripe-Signature`` verification and invoice / payment / refund normalization."""
