"""Server-side HTML with every value escaped: ``html(template, **values)`` escapes each value that is not already
``Markup`` (a fragment built the same way). No inline script or style anywhere: the CSP forbids both."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from urllib.parse import urlencode


class Markup(str):
    """HTML that is safe to insert as is (built by ``html`` / ``join``)."""

    __slots__ = ()


def e(value: object) -> Markup:
    if isinstance(value, Markup):
        return value
    return Markup(escape("" if value is None else str(value), quote=True))


def html(template: str, /, **values: object) -> Markup:
    return Markup(template.format(**{name: e(value) for name, value in values.items()}))


def join(parts: Iterable[object], separator: str = "") -> Markup:
    return Markup(separator.join(e(part) for part in parts))


def query(values: Mapping[str, object]) -> str:
    """``?a=1&b=2`` of the non-empty values ('' when none)."""
    kept = {k: str(v) for k, v in values.items() if v not in (None, "")}
    return "?" + urlencode(kept) if kept else ""


def table(headers: Iterable[object], rows: Iterable[Iterable[object]], *, caption: str,
          numeric: frozenset[int] = frozenset()) -> Markup:
    """A data table with a caption and column headers (``numeric``: right-aligned column indexes)."""
    headers = list(headers)
    head = join(html('<th scope="col"{cls}>{h}</th>', h=h, cls=Markup(' class="num"') if i in numeric else Markup(""))
                for i, h in enumerate(headers))
    body = join(html("<tr>{cells}</tr>", cells=join(
        html("<td{cls}>{c}</td>", c=c, cls=Markup(' class="num"') if i in numeric else Markup(""))
        for i, c in enumerate(row))) for row in rows)
    return html('<table><caption>{caption}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>',
                caption=caption, head=head, body=body or html('<tr><td colspan="{n}">none</td></tr>',
                                                             n=len(headers) or 1))


def select(name: str, label: str, options: Iterable[tuple[str, str]], chosen: str) -> Markup:
    items = join(html('<option value="{v}"{sel}>{t}</option>', v=v, t=t,
                      sel=Markup(" selected") if v == chosen else Markup("")) for v, t in options)
    return html('<label>{label} <select name="{name}">{items}</select></label>', label=label, name=name, items=items)


def field(name: str, label: str, value: str = "", *, kind: str = "text", required: bool = False,
          extra: str = "") -> Markup:
    return html('<label>{label} <input type="{kind}" name="{name}" value="{value}"{req}{extra}></label>',
                label=label, kind=kind, name=name, value=value, req=Markup(" required") if required else Markup(""),
                extra=Markup(extra))
