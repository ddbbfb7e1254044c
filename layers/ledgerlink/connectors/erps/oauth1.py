"""OAuth 1.0a request signing (RFC 5849) with HMAC-SHA256, as NetSuite token-based authentication (TBA) uses it.

- signing key: ``percent(consumer_secret) & percent(token_secret)``;
- base string: ``METHOD & percent(base URI) & percent(normalized parameters)`` where the parameters are the
  ``oauth_*`` protocol parameters (not ``oauth_signature``), the query string and a form-encoded body —
  **not** ``realm``, which goes into the header only (NetSuite: the account id, e.g. ``1234567_SB1``);
- JSON bodies are not part of the signature (RFC 5849 §3.4.1.3.1: only form-encoded bodies are).

Stdlib only (``hmac``/``hashlib``), so the Lambda layer needs no OAuth library.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlsplit

SIGNATURE_METHOD = "HMAC-SHA256"


def percent(value: str) -> str:
    """RFC 5849 §3.6: unreserved characters stay, everything else is %XX (upper-case hex) of UTF-8."""
    return quote(value, safe="-._~")


def base_string_uri(url: str) -> str:
    """Scheme and host lower-cased, default ports dropped, no query or fragment (RFC 5849 §3.4.1.2)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path or '/'}"


def normalized_parameters(pairs: Iterable[tuple[str, str]]) -> str:
    encoded = sorted((percent(name), percent(value)) for name, value in pairs)
    return "&".join(f"{name}={value}" for name, value in encoded)


def signature_base_string(method: str, url: str, oauth_params: dict[str, str],
                          form: Iterable[tuple[str, str]] = ()) -> str:
    query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    pairs = [(k, v) for k, v in oauth_params.items() if k not in ("oauth_signature", "realm")]
    pairs += query + list(form)
    return "&".join([method.upper(), percent(base_string_uri(url)), percent(normalized_parameters(pairs))])


def sign(base_string: str, consumer_secret: str, token_secret: str) -> str:
    key = f"{percent(consumer_secret)}&{percent(token_secret)}".encode()
    return base64.b64encode(hmac.new(key, base_string.encode(), hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class TokenCredentials:
    """NetSuite TBA credentials (a Secrets Manager JSON): never logged, never in env vars."""

    consumer_key: str
    consumer_secret: str
    token_id: str
    token_secret: str

    def __repr__(self) -> str:  # keep secrets out of tracebacks and logs
        return "TokenCredentials(<redacted>)"


def authorization_header(method: str, url: str, credentials: TokenCredentials, *, realm: str,
                         timestamp: int, nonce: str | None = None) -> str:
    params = {
        "oauth_consumer_key": credentials.consumer_key,
        "oauth_token": credentials.token_id,
        "oauth_signature_method": SIGNATURE_METHOD,
        "oauth_timestamp": str(timestamp),
        "oauth_nonce": nonce or secrets.token_urlsafe(16),
        "oauth_version": "1.0",
    }
    params["oauth_signature"] = sign(signature_base_string(method, url, params),
                                     credentials.consumer_secret, credentials.token_secret)
    fields = [f'realm="{percent(realm)}"'] + [f'{k}="{percent(v)}"' for k, v in params.items()]
    return "OAuth " + ", ".join(fields)


def parse_authorization(header: str) -> dict[str, str]:
    """``OAuth k="v", ...`` → dict (values percent-decoded). Used by test servers and diagnostics."""
    from urllib.parse import unquote

    if not header.startswith("OAuth "):
        raise ValueError("not an OAuth header")
    result: dict[str, str] = {}
    for item in header[len("OAuth "):].split(","):
        name, _, raw = item.strip().partition("=")
        result[name] = unquote(raw.strip().strip('"'))
    return result


Clock = Callable[[], float]
