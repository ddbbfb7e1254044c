"""NetSuite's OAuth 1.0a signing is hand-written (``connectors/erps/oauth1.py``: stdlib only, because importing
oauthlib's signer costs the post function's cold start about ten milliseconds). oauthlib, the maintained
implementation, is a development dependency: every header LedgerLink builds must carry the signature oauthlib computes
for the same request, credentials, realm, nonce and timestamp."""

from __future__ import annotations

import pytest
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, Client

from ledgerlink.connectors.erps.oauth1 import TokenCredentials, authorization_header, parse_authorization

BASE = "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest"


@pytest.mark.parametrize(("method", "url"), [
    ("PUT", f"{BASE}/record/v1/journalentry/eid:doc_0123456789abcdef0123456789abcdef"),
    ("POST", f"{BASE}/query/v1/suiteql?limit=1000&offset=2000"),
    ("GET", f"{BASE}/async/v1/job/42/task/1/result"),
    ("GET", f"{BASE}/record/v1/customer/eid:LL-customer-cus_%C3%A9%20x?expand=true&a=b%2Fc"),
    ("POST", "https://1234567.suitetalk.api.netsuite.com:8443/services/rest/record/v1/invoice"),
])
@pytest.mark.parametrize("secrets", [("cs", "ts"), ("c&s%/=+", "t s~ü")])
def test_every_header_carries_the_signature_oauthlib_computes(method, url, secrets):
    consumer_secret, token_secret = secrets
    credentials = TokenCredentials("consumer-key", consumer_secret, "token-id", token_secret)
    ours = parse_authorization(authorization_header(method, url, credentials, realm="1234567_SB1",
                                                    timestamp=1_700_000_000, nonce="nonce-1"))
    client = Client("consumer-key", client_secret=consumer_secret, resource_owner_key="token-id",
                    resource_owner_secret=token_secret, signature_method=SIGNATURE_HMAC_SHA256, realm="1234567_SB1",
                    nonce="nonce-1", timestamp="1700000000")
    _, headers, _ = client.sign(url, http_method=method)
    assert ours == parse_authorization(headers["Authorization"])
    assert ours["realm"] == "1234567_SB1" and ours["oauth_signature_method"] == "HMAC-SHA256"
