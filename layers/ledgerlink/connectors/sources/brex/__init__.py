"""Brex: Standard Webhooks signatures and card expense events."""
