"""Per-agency API tokens for the OGC API (``Authorization: Bearer ioc_<prefix>_<secret>``).

Only a SHA-256 of the token is stored: tokens are 256-bit random strings, so a fast hash is
enough (unlike passwords) and lookups stay cheap on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

TOKEN_PREFIX = "ioc"  # noqa: S105 — a public marker, not a secret


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenManager(models.Manager):
    def issue(
        self,
        *,
        user,
        agency: str,
        name: str = "",
        collections: list[str] | None = None,
        can_write: bool = False,
        expires_at=None,
    ) -> tuple[ApiToken, str]:
        """Create a token; returns it and the clear key (shown once, never stored)."""
        prefix = secrets.token_hex(4)
        key = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        token = self.create(
            user=user,
            agency=agency,
            name=name,
            prefix=prefix,
            key_hash=hash_key(key),
            collections=sorted(collections or []),
            can_write=can_write,
            expires_at=expires_at,
        )
        return token, key

    def from_key(self, key: str) -> ApiToken | None:
        parts = key.split("_")
        if len(parts) < 3 or parts[0] != TOKEN_PREFIX:
            return None
        token = self.select_related("user").filter(prefix=parts[1], revoked=False).first()
        if token is None or not hmac.compare_digest(token.key_hash, hash_key(key)):
            return None
        if token.expires_at is not None and token.expires_at <= timezone.now():
            return None
        if not token.user.is_active:
            return None
        return token


class ApiToken(models.Model):
    """A token an agency's system uses to read (or write) some collections as ``user``."""

    name = models.CharField(_("tên"), max_length=120, blank=True)
    agency = models.CharField(_("cơ quan"), max_length=200)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("tài khoản"),
        on_delete=models.CASCADE,
        related_name="api_tokens",
        help_text=_("Quyền của mã không vượt quá quyền của tài khoản này"),
    )
    prefix = models.CharField(_("tiền tố"), max_length=16, unique=True)
    key_hash = models.CharField(_("băm SHA-256"), max_length=64)
    collections = models.JSONField(
        _("lớp được phép"),
        default=list,
        blank=True,
        help_text=_("Để trống: mọi lớp tài khoản xem được"),
    )
    can_write = models.BooleanField(_("được ghi"), default=False)
    created_at = models.DateTimeField(_("tạo lúc"), auto_now_add=True)
    expires_at = models.DateTimeField(_("hết hạn lúc"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("dùng lần cuối"), null=True, blank=True)
    revoked = models.BooleanField(_("đã thu hồi"), default=False)

    objects = ApiTokenManager()

    class Meta:
        verbose_name = _("mã truy cập API")
        verbose_name_plural = _("mã truy cập API")

    def __str__(self) -> str:
        return f"{self.agency} ({self.prefix})"

    def allows(self, layer_id: str) -> bool:
        return not self.collections or layer_id in self.collections
