"""The frame every page shares (navigation, the user and sign-out), the sign-in page and the error page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledgerlink.console.app import COOKIE, Request, Response, redirect, session_cookie
from ledgerlink.console.html import Markup, e, html, join
from ledgerlink.console.roles import Action

if TYPE_CHECKING:
    from ledgerlink.console.auth import Challenge
    from ledgerlink.console.services import ConsoleServices

NAV: tuple[tuple[str, str], ...] = (
    ("/exceptions", "Exceptions"), ("/approvals", "Approvals"), ("/search", "Find and trace"),
    ("/reconciliation", "Reconciliation"), ("/close", "Close"), ("/operations", "Operations"),
    ("/configuration", "Configuration"), ("/revenue", "Revenue"), ("/audit", "Audit trail"),
)


def csrf_field(request: Request) -> Markup:
    return html('<input type="hidden" name="csrf" value="{token}">', token=request.csrf)


def page(request: Request, title: str, body: Markup, *, status: int = 200) -> Response:
    user = request.principal
    nav = join(html('<li><a href="{href}"{current}>{label}</a></li>', href=request.url(path), label=label,
                    current=Markup(' aria-current="page"') if request.path.startswith(path) else Markup(""))
               for path, label in NAV) if user else Markup("")
    who = html('<p class="who">{name} <span class="roles">({roles})</span></p>'
               '<form method="post" action="{out}" class="inline">{csrf}<button type="submit">Sign out</button></form>',
               name=user.username, roles=", ".join(sorted(user.roles)) or "no role", out=request.url("/logout"),
               csrf=csrf_field(request)) if user else Markup("")
    notice = request.arg("notice")
    flash = html('<p class="notice" role="status">{n}</p>', n=notice) if notice else Markup("")
    document = html(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>{title} — LedgerLink</title><link rel="stylesheet" href="{css}"></head><body>'
        '<a class="skip" href="#main">Skip to content</a>'
        '<header><p class="brand">LedgerLink</p>{who}</header>'
        '{nav}<main id="main"><h1>{title}</h1>{flash}{body}</main>'
        '<script src="{js}"></script></body></html>',
        title=title, css=request.url("/static/console.css"), js=request.url("/static/console.js"), who=who,
        nav=html('<nav aria-label="Console"><ul>{items}</ul></nav>', items=nav) if user else Markup(""),
        flash=flash, body=body)
    return Response(status, str(document))


def error_page(request: Request | None, status: int, reason: str, message: str) -> Response:
    body = html('<p class="error" role="alert">{message}</p><p>Reason: <code>{reason}</code> (HTTP {status})</p>',
                message=message, reason=reason, status=status)
    if request is None:
        return Response(status, str(html('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{r}'
                                          '</title></head><body><main><h1>{r}</h1>{b}</main></body></html>',
                                          r=reason, b=body)))
    response = page(request, "Not possible" if status < 500 else "Something failed", body, status=status)
    response.headers["X-LedgerLink-Reason"] = reason
    return response


def sign_in(request: Request, services: ConsoleServices) -> Response:
    """The password form, then whatever Cognito asks next (a new password, setting up or entering a TOTP code)."""
    from ledgerlink.console.auth import Challenge, SignInFailed

    target = request.arg("next") or request.value("next")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = "/exceptions"
    problem = request.arg("why")
    if request.method == "GET":
        return _sign_in_form(request, target, problem, "your session ended: sign in again" if problem else "")
    if request.method != "POST":
        return error_page(request, 405, "method_not_allowed", "sign in with the form")
    challenge = request.value("challenge")
    try:
        if challenge:
            result = services.auth.answer(challenge, session=request.value("session"),
                                          username=request.value("username"), code=request.value("code"),
                                          new_password=request.form.get("new_password", [""])[0])
        else:
            result = services.auth.sign_in(request.value("username"), request.form.get("password", [""])[0])
    except SignInFailed as failed:
        if challenge and failed.reason in ("code_mismatch", "code_required", "password_policy", "password_required"):
            retry = Challenge(challenge, request.value("session"), request.value("username"),
                              secret=request.value("secret"))
            return _challenge_form(request, target, retry, failed.reason, str(failed), status=401)
        return _sign_in_form(request, target, failed.reason, str(failed), status=401)
    if isinstance(result, Challenge):
        return _challenge_form(request, target, result, "", "")
    return redirect(request.url(target), cookies=[session_cookie(result, secure=request.secure)])


def _alert(reason: str, message: str) -> Markup:
    return html('<p class="error" role="alert">{m} <code>{r}</code></p>', m=message, r=reason) if message \
        else Markup("")


def _sign_in_form(request: Request, target: str, reason: str, message: str, *, status: int = 200) -> Response:
    body = html(
        '{alert}<form method="post" action="{action}" class="signin">'
        '<input type="hidden" name="next" value="{next}">'
        '<label>User name <input name="username" autocomplete="username" required></label>'
        '<label>Password <input name="password" type="password" autocomplete="current-password" required></label>'
        '<button type="submit">Sign in</button></form>',
        alert=_alert(reason, message), action=request.url("/login"), next=target)
    return page(request, "Sign in", body, status=status)


def _challenge_form(request: Request, target: str, challenge: Challenge, reason: str, message: str, *,
                    status: int = 200) -> Response:
    if challenge.name == "NEW_PASSWORD_REQUIRED":
        title, fields = "Choose your password", html(
            '<label>New password <input name="new_password" type="password" autocomplete="new-password" required>'
            '</label>')
    else:
        title = "Set up your authenticator" if challenge.name == "MFA_SETUP" else "Authenticator code"
        setup = html('<p>Add this key to your authenticator app (TOTP, 30 seconds, 6 digits): <code>{s}</code></p>'
                     '<p>or as a link: <code>otpauth://totp/LedgerLink:{u}?secret={s}&amp;issuer=LedgerLink</code>'
                     '</p><input type="hidden" name="secret" value="{s}">', s=challenge.secret,
                     u=challenge.username) if challenge.secret else Markup("")
        fields = html('{setup}<label>6-digit code <input name="code" inputmode="numeric" autocomplete="one-time-code" '
                      'pattern="[0-9]{{6}}" required></label>', setup=setup)
    body = html(
        '{alert}<form method="post" action="{action}" class="signin">'
        '<input type="hidden" name="next" value="{next}"><input type="hidden" name="challenge" value="{name}">'
        '<input type="hidden" name="session" value="{session}"><input type="hidden" name="username" value="{user}">'
        '{fields}<button type="submit">Continue</button></form>',
        alert=_alert(reason, message), action=request.url("/login"), next=target, name=challenge.name,
        session=challenge.session, user=challenge.username, fields=fields)
    return page(request, title, body, status=status)


def sign_out(request: Request) -> Response:
    if request.method != "POST":
        return error_page(request, 405, "method_not_allowed", "sign out with the button")
    return redirect(request.url("/login"), cookies=[session_cookie("", secure=request.secure, clear=True)])


def can(request: Request, action: Action) -> bool:
    return request.principal is not None and request.principal.can(action)


def money(amount: object, currency: object = "") -> str:
    return f"{amount} {currency}".strip() if amount not in (None, "") else "—"


__all__ = ["COOKIE", "can", "csrf_field", "e", "error_page", "money", "page", "sign_in", "sign_out"]
