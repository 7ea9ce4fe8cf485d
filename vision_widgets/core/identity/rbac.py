"""Permissions as an enum plus a role → permissions map, checked in services.

An account's tier (``user`` or ``admin``) is its *role*; "profile" in this
code base means only a data summary (``client.Profile``).

The UI hides what a role may not use; services call ``require`` anyway,
because in Voila the browser can "click" any live button.
"""
from __future__ import annotations

from enum import Enum

from vision_widgets.core.errors import PermissionDenied
from vision_widgets.core.identity.principal import Principal


class Permission(str, Enum):
    """Something a principal may do. The value reads as a phrase in messages."""

    MANAGE_OWN_ACCOUNT = "manage your own account"
    VIEW_OWN_MODELS = "view your own models"
    VIEW_ALL_MODELS = "view every model"
    REGISTER_MODEL = "register models"
    MANAGE_ACCESS = "manage accounts and access"
    VIEW_MONITORING = "view platform monitoring"
    MANAGE_CONNECTORS = "manage connectors"
    VIEW_OWN_JOBS = "follow your own background jobs"
    MANAGE_COST_RATES = "edit the cost rates"
    MANAGE_ALERTS = "configure alert delivery"
    MANAGE_API_KEYS = "issue API keys for automation"
    READ_LLM_LOG = "read the LLM chat log"


USER = "user"
ADMIN = "admin"
ROLES: tuple[str, ...] = (USER, ADMIN)

_USER_PERMISSIONS = frozenset(
    {Permission.MANAGE_OWN_ACCOUNT, Permission.VIEW_OWN_MODELS, Permission.REGISTER_MODEL, Permission.VIEW_OWN_JOBS}
)

ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    USER: _USER_PERMISSIONS,
    ADMIN: frozenset(Permission),
}


def permissions_for(role: str) -> frozenset[Permission]:
    """The permissions of a role (an unknown role has none)."""
    return ROLE_PERMISSIONS.get(role, frozenset())


def has(principal: Principal, permission: Permission) -> bool:
    """Whether the principal's role grants ``permission``."""
    return permission in permissions_for(principal.role)


def require(principal: Principal, permission: Permission) -> None:
    """Raise ``PermissionDenied`` unless the principal has ``permission``."""
    if not has(principal, permission):
        raise PermissionDenied(
            f"Your role ({principal.role}) may not {permission.value}; "
            "ask an administrator if you need this."
        )


def can_view_model(principal: Principal, owner: str) -> bool:
    """A user sees the models they own; an admin sees every model."""
    if has(principal, Permission.VIEW_ALL_MODELS):
        return True
    return has(principal, Permission.VIEW_OWN_MODELS) and owner == principal.username


def can_manage_model(principal: Principal, owner: str) -> bool:
    """The owner or an admin may add data to, issue tokens for, or delete a model."""
    if has(principal, Permission.VIEW_ALL_MODELS):
        return True
    return has(principal, Permission.REGISTER_MODEL) and owner == principal.username


def is_admin(principal: Principal) -> bool:
    """Whether the principal manages accounts and access (the admin role)."""
    return has(principal, Permission.MANAGE_ACCESS)
