"""Demo groups (operators, GIS editors) and accounts with generated passwords."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, Permission, User

from layers.permissions import sync_layer_permissions
from layers.registry import Access, FeatureLayer, registry

OPERATORS = "Vận hành IOC"
EDITORS = "Biên tập GIS"
USERS = (
    # username, group, is_staff, is_superuser
    ("admin", None, True, True),
    ("operator", OPERATORS, True, False),
    ("editor", EDITORS, True, False),
)


def operator_codenames() -> set[str]:
    names = {f"view_{layer.id}" for layer in registry if layer.access != Access.PUBLIC}
    for layer_id in ("cameras", "field_reports"):
        if layer_id in registry and isinstance(registry.get(layer_id), FeatureLayer):
            if registry.get(layer_id).restricted_fields:
                names.add(f"view_private_{layer_id}")
    if "field_reports" in registry:
        names.add("change_field_reports")
    return names


def editor_codenames() -> set[str]:
    return {codename for layer in registry for codename, _name in layer.permissions()}


def _permissions(codenames: set[str]) -> list[Permission]:
    """The layer permissions (those of layers registered since the last migrate are created)."""
    every = sync_layer_permissions()
    return [every[codename] for codename in sorted(codenames)]


def password_file(username: str) -> Path:
    return Path(settings.VAR_DIR) / "secrets" / f"demo_{username}_password"


def _password(username: str) -> str:
    """The account's password: generated once into var/secrets, reused afterwards."""
    path = password_file(username)
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    return password


def load_accounts() -> tuple[int, str] | None:
    """Groups get their permissions added (never removed); missing users are created."""
    created_groups, added_perms = 0, 0
    for name, codenames in ((OPERATORS, operator_codenames()), (EDITORS, editor_codenames())):
        group, created = Group.objects.get_or_create(name=name)
        created_groups += created
        wanted = _permissions(codenames)
        have = set(group.permissions.values_list("id", flat=True))
        new = [p for p in wanted if p.id not in have]
        if new:
            group.permissions.add(*new)
            added_perms += len(new)
    created_users = []
    for username, group_name, is_staff, is_superuser in USERS:
        if User.objects.filter(username=username).exists():
            continue  # existing accounts are left alone
        password = _password(username)
        if is_superuser:
            user = User.objects.create_superuser(username, password=password)
        else:
            user = User.objects.create_user(username, password=password, is_staff=is_staff)
        if group_name:
            user.groups.add(Group.objects.get(name=group_name))
        created_users.append(username)
    if not (created_groups or added_perms or created_users):
        return None
    where = password_file("<user>").parent
    return (
        created_groups + len(created_users),
        f"groups +{created_groups} ({added_perms} permissions), users "
        f"{', '.join(created_users) or 'none'} (passwords in {where}/demo_<user>_password)",
    )
