"""Staff roles and the actions they allow."""

from django.db import models


class StaffRole(models.TextChoices):
    """Alma-style roles, held per institution."""

    GENERAL_SYSTEM_ADMINISTRATOR = "GSA", "General System Administrator"
    USER_MANAGER = "USER_MANAGER", "User Manager"
    VIEWER = "VIEWER", "Viewer"


class Action(models.TextChoices):
    """What a page or API call needs; `ROLE_ACTIONS` says which role may do it."""

    VIEW = "view", "Read users, jobs and configuration"
    EDIT_USERS = "edit_users", "Create, edit and delete users"
    CONFIGURE = "configure", "Configure connections, profiles, code tables; run jobs"


ROLE_ACTIONS: dict[str, frozenset[str]] = {
    StaffRole.GENERAL_SYSTEM_ADMINISTRATOR: frozenset(
        {Action.VIEW, Action.EDIT_USERS, Action.CONFIGURE}
    ),
    StaffRole.USER_MANAGER: frozenset({Action.VIEW, Action.EDIT_USERS}),
    StaffRole.VIEWER: frozenset({Action.VIEW}),
}


class ApiScope(models.TextChoices):
    """What an API key may do; a key holds one or more (see docs/api.md, "Key scopes")."""

    USERS_READ = "users:read", "users:read: read users, jobs, reports and configuration"
    USERS_WRITE = "users:write", "users:write: create, change and delete users; run jobs"
    CONFIG_WRITE = "config:write", "config:write: change connections and integration profiles"


READ_ONLY_SCOPES = frozenset({ApiScope.USERS_READ})
READ_WRITE_SCOPES = frozenset({ApiScope.USERS_READ, ApiScope.USERS_WRITE})
