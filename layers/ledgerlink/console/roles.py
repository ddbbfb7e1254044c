"""The console's roles (Cognito groups of the same names) and what each may do.

A user holds one or more roles; an action is allowed when any of them grants it. The check runs on the server for
every request (``require``); a page only hides the buttons of actions its user lacks.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"                  # sees every page, changes nothing
    FINANCE_OPS = "finance_ops"        # works exception cases: retry, resolve, ignore, assign, note, export
    APPROVER = "approver"              # approves or rejects documents held for approval
    OPS_ADMIN = "ops_admin"            # DLQ redrive and replay
    MAPPING_ADMIN = "mapping_admin"    # configuration: checks a proposed change against the open cases


class Action(StrEnum):
    VIEW = "view"
    WORK_CASES = "work_cases"
    APPROVE = "approve"
    REDRIVE = "redrive"
    REPLAY = "replay"
    CONFIGURE = "configure"


GRANTS: dict[Role, frozenset[Action]] = {
    Role.VIEWER: frozenset({Action.VIEW}),
    Role.FINANCE_OPS: frozenset({Action.VIEW, Action.WORK_CASES}),
    Role.APPROVER: frozenset({Action.VIEW, Action.APPROVE}),
    Role.OPS_ADMIN: frozenset({Action.VIEW, Action.REDRIVE, Action.REPLAY}),
    Role.MAPPING_ADMIN: frozenset({Action.VIEW, Action.CONFIGURE}),
}

ROLE_NAMES: tuple[str, ...] = tuple(role.value for role in Role)


def roles_of(groups: object) -> frozenset[Role]:
    """The roles named by a token's ``cognito:groups`` (unknown group names grant nothing)."""
    if isinstance(groups, str):
        groups = groups.split(",") if groups else []
    if not isinstance(groups, (list, tuple)):
        return frozenset()
    return frozenset(Role(name) for name in groups if isinstance(name, str) and name in ROLE_NAMES)


def allowed(roles: frozenset[Role], action: Action) -> bool:
    return any(action in GRANTS[role] for role in roles)
