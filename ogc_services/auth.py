"""Who is calling: Django session, HTTP Basic (QGIS, GDAL) or an agency API token (Bearer).

A :class:`Caller` answers the registry's questions (may it see / edit this layer, which
fields) with a token's scope applied on top of its user's permissions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from layers.registry import FeatureLayer, LayerBase, registry
from ogc_services.errors import OGCError

REALM = 'Basic realm="IOC OGC API", charset="UTF-8"'


@dataclass(frozen=True)
class Caller:
    user: object
    token: object | None = None  # ogc_services.models.ApiToken
    # How the caller proved who it is: "basic", "bearer" or "session" (a browser's cookie, or
    # nobody). Only "session" requests can be forged cross-site (CSRF), see views._delete.
    via: str = "session"

    @property
    def has_credentials(self) -> bool:
        """Authenticated by credentials sent with this very request (Basic or Bearer)."""
        return self.via in ("basic", "bearer") and self.is_authenticated

    @property
    def is_authenticated(self) -> bool:
        return bool(getattr(self.user, "is_authenticated", False))

    def _token_allows(self, layer_id: str) -> bool:
        return self.token is None or self.token.allows(layer_id)

    def can_view(self, layer: LayerBase) -> bool:
        return layer.can_view(self.user) and self._token_allows(layer.id)

    def can_edit(self, layer: FeatureLayer) -> bool:
        if self.token is not None and not self.token.can_write:
            return False
        return self.can_view(layer) and layer.can_edit(self.user)

    def fields(self, layer: FeatureLayer) -> tuple[str, ...]:
        return layer.fields_for(self.user)

    def visible_ids(self) -> tuple[str, ...]:
        return tuple(layer.id for layer in registry.feature_layers() if self.can_view(layer))


def unauthorized(description: str) -> OGCError:
    return OGCError(401, "Unauthorized", description, {"WWW-Authenticate": REALM})


# Password hashing costs ~0.3 s per request and QGIS/GDAL send Basic credentials on every
# request: remember good credentials briefly (keyed by an HMAC, never the password itself).
_BASIC_CACHE: dict[str, tuple[int, float]] = {}
_BASIC_LOCK = threading.Lock()


def _basic_user(username: str, password: str, request):
    key = hmac.new(
        settings.SECRET_KEY.encode(), f"{username}\0{password}".encode(), hashlib.sha256
    ).hexdigest()
    now = time.monotonic()
    with _BASIC_LOCK:
        hit = _BASIC_CACHE.get(key)
    if hit and hit[1] > now:
        user = get_user_model().objects.filter(pk=hit[0], is_active=True).first()
        if user is not None:
            return user
    user = authenticate(request, username=username, password=password)
    if user is not None:
        with _BASIC_LOCK:
            if len(_BASIC_CACHE) > 10_000:
                _BASIC_CACHE.clear()
            _BASIC_CACHE[key] = (user.pk, now + settings.OGC_BASIC_AUTH_CACHE_SECONDS)
    return user


def authenticate_request(request) -> Caller:
    """The caller of an OGC request; bad credentials are a 401, never a silent anonymous."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            username, _, password = decoded.partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise unauthorized(
                "Thông tin đăng nhập Basic không hợp lệ / Malformed Basic credentials"
            ) from exc
        user = _basic_user(username, password, request)
        if user is None:
            raise unauthorized("Sai tên đăng nhập hoặc mật khẩu / Wrong username or password")
        return Caller(user, via="basic")
    if scheme == "bearer":
        from ogc_services.models import ApiToken

        token = ApiToken.objects.from_key(value.strip())
        if token is None:
            raise unauthorized(
                "Mã truy cập không hợp lệ hoặc đã hết hạn / Invalid or expired token"
            )
        if token.last_used_at is None or (timezone.now() - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return Caller(token.user, token, via="bearer")
    if header:
        raise unauthorized("Phương thức xác thực không được hỗ trợ / Unsupported authorization")
    user = getattr(request, "user", None) or AnonymousUser()
    return Caller(user)


# The caller of the request being served: pygeoapi calls our providers without the request,
# so the view sets it here (a ContextVar: safe with threads).
_current: ContextVar[Caller | None] = ContextVar("ogc_caller", default=None)


def current_caller() -> Caller:
    return _current.get() or Caller(AnonymousUser())


def set_current_caller(caller: Caller):
    return _current.set(caller)


def reset_current_caller(token) -> None:
    _current.reset(token)
