"""Ramp: HMAC-signed thin webhooks, transactions and reimbursements fetched from the Ramp API."""
