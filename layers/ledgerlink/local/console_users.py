"""The local console's sign-in: a Cognito user pool in moto with one generated user per role.

The console verifies moto's ID tokens exactly as it verifies Cognito's on AWS (``ledgerlink.console.auth``); the
users and their passwords are generated at every start (the pool lives in moto's memory), printed by ``local up``
and written to ``<state dir>/console-users.json`` (mode 0600) for scripts and the browser tests.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ledgerlink.console.roles import ROLE_NAMES
from ledgerlink.store import clients

USERS_FILE = "console-users.json"


@dataclass(frozen=True)
class ConsolePool:
    user_pool_id: str
    client_id: str
    users: dict[str, tuple[str, str]]     # role → (username, password)

    def write(self, state_dir: Path) -> Path:
        path = state_dir / USERS_FILE
        path.unlink(missing_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump({"user_pool_id": self.user_pool_id, "client_id": self.client_id,
                       "users": {role: {"username": u, "password": p} for role, (u, p) in self.users.items()}},
                      out, indent=2)
        return path


def _password() -> str:
    # Cognito's default policy: 8+ characters with upper, lower, digit and symbol
    return f"Ll-{secrets.token_urlsafe(12)}-7a"


def create_console_pool(prefix: str) -> ConsolePool:
    cognito = clients.client("cognito-idp")
    pool = cognito.create_user_pool(PoolName=f"{prefix}-console", AdminCreateUserConfig={
        "AllowAdminCreateUserOnly": True})["UserPool"]["Id"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName=f"{prefix}-console", GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
    users: dict[str, tuple[str, str]] = {}
    for role in ROLE_NAMES:
        cognito.create_group(GroupName=role, UserPoolId=pool, Description=f"LedgerLink console role {role}")
    for role in ROLE_NAMES:
        username, password = role.replace("_", "-"), _password()
        cognito.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")
        cognito.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)
        cognito.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=role)
        users[role] = (username, password)
    return ConsolePool(user_pool_id=pool, client_id=client, users=users)
