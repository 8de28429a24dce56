"""What an import did, as JSON (for scripts and the admin's download) and as text."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


def _counts() -> dict[str, int]:
    return dict.fromkeys(
        ("read", "inserted", "updated", "unchanged", "deleted", "repaired", "rejected"), 0
    )


LABELS = {
    "read": gettext_lazy("Đã đọc / read"),
    "inserted": gettext_lazy("Thêm mới / inserted"),
    "updated": gettext_lazy("Cập nhật / updated"),
    "unchanged": gettext_lazy("Không đổi / unchanged"),
    "deleted": gettext_lazy("Đã xoá / deleted"),
    "repaired": gettext_lazy("Đã sửa hình học / repaired"),
    "rejected": gettext_lazy("Bị loại / rejected"),
}


@dataclass
class Report:
    source: str
    layer: str
    mode: str
    key: str | None = None
    dry_run: bool = False
    format: str = ""
    counts: dict[str, int] = field(default_factory=_counts)
    crs: dict[str, Any] = field(default_factory=dict)
    encodings: dict[str, str] = field(default_factory=dict)
    field_mapping: dict[str, str] = field(default_factory=dict)
    ignored_fields: list[str] = field(default_factory=list)
    repaired: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    error: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["features_per_s"] = (
            round(self.counts["read"] / self.duration_s) if self.duration_s else None
        )
        return data

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2, default=str)

    def to_text(self, limit: int = 1000) -> str:
        """The report for people, in the active language (Vietnamese/English by default)."""
        lines = [
            _("Nhập / import: %(source)s → %(layer)s")
            % {"source": self.source, "layer": self.layer}
            + f" ({self.mode}"
            + (_(", khoá / key %(key)s") % {"key": self.key} if self.key else "")
            + (_(", CHẠY THỬ / DRY RUN — không ghi gì / nothing written") if self.dry_run else "")
            + ")",
            _("Định dạng / format: %(format)s") % {"format": self.format},
        ]
        if self.crs:
            crs = self.crs
            lines.append(
                _("Hệ toạ độ / CRS: %(code)s %(title)s — độ tin cậy / confidence: %(confidence)s")
                % {
                    "code": crs.get("code") or "",
                    "title": crs.get("title", ""),
                    "confidence": crs.get("confidence"),
                }
                + (_(" — trục X/Y đảo / axes swapped") if crs.get("swapped_axes") else "")
            )
            if crs.get("declared"):
                lines.append(
                    _("  khai báo trong tệp / declared: %(declared)s")
                    % {"declared": crs["declared"]}
                )
        for name, label in self.encodings.items():
            lines.append(
                _("Bảng mã / encoding %(name)s: %(label)s") % {"name": name, "label": label}
            )
        if self.field_mapping:
            lines.append(
                _("Ánh xạ trường / field mapping: %(pairs)s")
                % {"pairs": ", ".join(f"{s} → {t}" for t, s in self.field_mapping.items())}
            )
        if self.ignored_fields:
            lines.append(
                _("Bỏ qua / ignored: %(fields)s") % {"fields": ", ".join(self.ignored_fields)}
            )
        for note in self.notes:
            lines.append(_("Ghi chú / note: %(note)s") % {"note": note})
        for key, label in LABELS.items():
            lines.append(f"  {label}: {self.counts[key]}")
        if self.duration_s:
            rate = self.counts["read"] / self.duration_s
            lines.append(
                _("Thời gian / time: %(seconds)s s (%(rate)s đt/s / feat/s)")
                % {"seconds": f"{self.duration_s:.1f}", "rate": f"{rate:,.0f}"}
            )
        for item in self.repaired[:limit]:
            lines.append(
                _("  sửa / repaired dòng/row %(row)s: %(reason)s")
                % {"row": item["row"], "reason": item["reason"]}
            )
        for item in self.rejected[:limit]:
            key = f" [{item['key']}]" if item.get("key") is not None else ""
            lines.append(
                _("  loại / rejected dòng/row %(row)s%(key)s: %(reasons)s")
                % {"row": item["row"], "key": key, "reasons": "; ".join(item["reasons"])}
            )
        if len(self.rejected) > limit:
            lines.append(
                _("  … %(count)s dòng nữa trong báo cáo JSON / more in the JSON report")
                % {"count": len(self.rejected) - limit}
            )
        if self.error:
            lines.append(
                _("LỖI / ERROR [%(code)s]: %(message)s")
                % {"code": self.error.get("code"), "message": self.error.get("message")}
            )
        return "\n".join(lines)
