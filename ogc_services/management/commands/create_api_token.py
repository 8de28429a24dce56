"""``python manage.py create_api_token``: issue an agency's OGC API token (shown once)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from layers.registry import registry
from ogc_services.models import ApiToken


class Command(BaseCommand):
    help = (
        "Tạo mã truy cập OGC API cho một cơ quan / Create an OGC API token for an agency "
        "(Authorization: Bearer <token>)"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--user", required=True, help="tài khoản mà mã hành động thay / account"
        )
        parser.add_argument("--agency", required=True, help="tên cơ quan / agency name")
        parser.add_argument("--name", default="", help="ghi chú / label")
        parser.add_argument(
            "--collections",
            default="",
            help="các lớp, phân cách dấu phẩy (trống: mọi lớp tài khoản xem được) / layer ids",
        )
        parser.add_argument("--write", action="store_true", help="cho phép ghi / allow writes")
        parser.add_argument("--expires-days", type=int, default=None, help="hết hạn sau N ngày")

    def handle(self, *, user, agency, name, collections, write, expires_days, **options) -> None:
        account = get_user_model().objects.filter(username=user).first()
        if account is None:
            raise CommandError(
                f"Không có tài khoản {user!r}: tạo bằng `manage.py createsuperuser` hoặc trang "
                f"quản trị / No user {user!r}: create it first"
            )
        wanted = [c.strip() for c in collections.split(",") if c.strip()]
        unknown = [c for c in wanted if c not in registry]
        if unknown:
            raise CommandError(
                f"Lớp không có / Unknown layers: {', '.join(unknown)}. "
                f"Có / Available: {', '.join(registry.ids())}"
            )
        expires = timezone.now() + timedelta(days=expires_days) if expires_days else None
        token, key = ApiToken.objects.issue(
            user=account,
            agency=agency,
            name=name,
            collections=wanted,
            can_write=write,
            expires_at=expires,
        )
        self.stderr.write(
            f"Mã cho {agency} (id {token.pk}, {'đọc/ghi' if write else 'chỉ đọc'}); lưu lại ngay, "
            f"sẽ không hiện lại / Token for {agency}; store it now, it is not shown again:"
        )
        self.stdout.write(key)
