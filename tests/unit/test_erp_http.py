"""The HTTP and auth pieces every ERP connector shares: exact JSON money, OAuth 1.0a base strings (RFC 5849's
own example), Retry-After parsing, short references and credential handling."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from ledgerlink.connectors.erps.common import short_ref
from ledgerlink.connectors.erps.http import HttpResponse, dumps, loads
from ledgerlink.connectors.erps.oauth1 import (
    TokenCredentials,
    authorization_header,
    parse_authorization,
    signature_base_string,
)
from ledgerlink.connectors.erps.session import load_credentials, retry_after_seconds
from ledgerlink.errors import DocumentRejected


def test_decimal_amounts_go_out_digit_for_digit_and_come_back_exact():
    body = dumps({"LineAmount": Decimal("1234567.10"), "Tiny": Decimal("0.000001"), "Name": "Grüße \"x\"",
                  "Lines": [Decimal("-0.10"), 3, None, True]})
    assert '"LineAmount":1234567.10' in body and '"Tiny":0.000001' in body
    assert loads(body)["LineAmount"] == Decimal("1234567.10") and json.loads(body)["Name"] == 'Grüße "x"'
    with pytest.raises(TypeError):
        dumps({"amount": 0.1})


def test_the_oauth1_base_string_matches_rfc_5849_and_leaves_realm_out():
    # RFC 5849 section 3.4.1.1's example request (form body parameters included)
    params = {"realm": "Example", "oauth_consumer_key": "9djdj82h48djs9d2", "oauth_token": "kkk9d7dh3k39sjv7",
              "oauth_signature_method": "HMAC-SHA1", "oauth_timestamp": "137131201", "oauth_nonce": "7d8f3e4a",
              "oauth_signature": "ignored"}
    base = signature_base_string("POST", "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b", params,
                                 form=[("c2", ""), ("a3", "2 q")])
    assert base == ("POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D"
                    "%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a"
                    "%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3D"
                    "kkk9d7dh3k39sjv7")


def test_a_netsuite_header_names_the_realm_and_hmac_sha256_and_keeps_secrets_out_of_repr():
    credentials = TokenCredentials("ck", "cs", "tk", "ts")
    header = authorization_header("GET", "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/x?a=1",
                                  credentials, realm="1234567_SB1", timestamp=1_700_000_000, nonce="n1")
    fields = parse_authorization(header)
    assert fields["realm"] == "1234567_SB1" and fields["oauth_signature_method"] == "HMAC-SHA256"
    assert fields["oauth_consumer_key"] == "ck" and "cs" not in header and "ts" not in header
    assert repr(credentials) == "TokenCredentials(<redacted>)"


@pytest.mark.parametrize(("header", "expected"), [("7", 7.0), (None, 60.0), ("soon", 60.0)])
def test_retry_after_seconds_or_the_erps_documented_wait(header, expected):
    response = HttpResponse(429, {"retry-after": header} if header else {}, b"")
    assert retry_after_seconds(response, 60.0) == expected


def test_short_references_are_deterministic_and_fit():
    doc = "doc_" + "ab" * 16
    assert short_ref(doc, 21) == short_ref(doc, 21) == "LLABABABABABABABABABA"
    assert len(short_ref(doc, 20)) == 20 and short_ref("customer:cus_1", 20) != short_ref("customer:cus_2", 20)


class Store:
    def __init__(self, text: str) -> None:
        self.text = text

    def get_raw(self, secret_id: str, *, fresh: bool = False) -> str:
        return self.text


def test_credentials_must_be_a_json_object_with_the_kinds_keys():
    assert load_credentials(Store('{"client_id": "a", "client_secret": "b"}'), "s", ("client_id", "client_secret"))
    for text in ("whsec_plain", '{"client_id": "a"}'):
        with pytest.raises(DocumentRejected) as raised:
            load_credentials(Store(text), "ledgerlink/erp/x", ("client_id", "client_secret"))
        assert raised.value.reason == "erp_auth_failed" and text not in str(raised.value)   # never the value
