"""Adyen standard notifications: per-item HMAC, ``[accepted]`` acknowledgement, payments to documents."""
