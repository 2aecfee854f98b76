"""The admin console's router-level guard: every route under /admin is for admins only."""

from __future__ import annotations

from fastapi import Depends

from medconsult.accounts.models import User
from medconsult.auth import AdminUser


def _admin_only(user: AdminUser) -> User:
    return user


# On the router itself, so a route that forgets to ask for the admin is still guarded.
ADMIN_ONLY = Depends(_admin_only)
