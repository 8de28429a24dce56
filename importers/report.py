"""What an import did, as JSON (for scripts and the admin's download) and as text."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


def _counts() -> dict[str, int]:
    return dict.fromkeys(
        ("read", "inserted", "updated", "unchanged", "deleted", "repaired", "rejected"), 0
    )


LABELS = {
    "read": "Đã đọc / read",
    "inserted": "Thêm mới / inserted",
    "updated": "Cập nhật / updated",
    "unchanged": "Không đổi / unchanged",
    "deleted": "Đã xoá / deleted",
    "repaired": "Đã sửa hình học / repaired",
    "rejected": "Bị loại / rejected",
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
        lines = [
            f"Nhập / import: {self.source} → {self.layer} ({self.mode}"
            + (f", khoá / key {self.key}" if self.key else "")
            + (", CHẠY THỬ / DRY RUN — không ghi gì / nothing written" if self.dry_run else "")
            + ")",
            f"Định dạng / format: {self.format}",
        ]
        if self.crs:
            crs = self.crs
            lines.append(
                f"Hệ toạ độ / CRS: {crs.get('code') or ''} {crs.get('title', '')} — "
                f"độ tin cậy / confidence: {crs.get('confidence')}"
                + (" — trục X/Y đảo / axes swapped" if crs.get("swapped_axes") else "")
            )
            if crs.get("declared"):
                lines.append(f"  khai báo trong tệp / declared: {crs['declared']}")
        for name, label in self.encodings.items():
            lines.append(f"Bảng mã / encoding {name}: {label}")
        if self.field_mapping:
            lines.append(
                "Ánh xạ trường / field mapping: "
                + ", ".join(f"{s} → {t}" for t, s in self.field_mapping.items())
            )
        if self.ignored_fields:
            lines.append("Bỏ qua / ignored: " + ", ".join(self.ignored_fields))
        for note in self.notes:
            lines.append(f"Ghi chú / note: {note}")
        for key, label in LABELS.items():
            lines.append(f"  {label}: {self.counts[key]}")
        if self.duration_s:
            rate = self.counts["read"] / self.duration_s
            lines.append(f"Thời gian / time: {self.duration_s:.1f} s ({rate:,.0f} đt/s / feat/s)")
        for item in self.repaired[:limit]:
            lines.append(f"  sửa / repaired dòng/row {item['row']}: {item['reason']}")
        for item in self.rejected[:limit]:
            key = f" [{item['key']}]" if item.get("key") is not None else ""
            lines.append(
                f"  loại / rejected dòng/row {item['row']}{key}: " + "; ".join(item["reasons"])
            )
        if len(self.rejected) > limit:
            lines.append(
                f"  … {len(self.rejected) - limit} dòng nữa trong báo cáo JSON / more in "
                "the JSON report"
            )
        if self.error:
            lines.append(f"LỖI / ERROR [{self.error.get('code')}]: {self.error.get('message')}")
        return "\n".join(lines)
