"""Salesforce outbound messages (SOAP): URL-token authentication, Ack response, closed-won opportunities."""
