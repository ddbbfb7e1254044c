"""Expensify: no webhooks; approved reports exported by a scheduled poller through the Integration Server."""
