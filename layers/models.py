"""The IOC feature model: every object the operations centre handles is a PostGIS feature.

Derived attributes (a camera's field-of-view polygon, the commune a point lies in, a road's
length, stamps and version numbers) are computed by triggers in the database
(``layers/sql/``), so they stay right whichever client edits the row — the admin, the OGC
API, an importer or QGIS connected straight to PostGIS. Python never writes them.
"""

from __future__ import annotations

from django.contrib.gis.db import models
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Case, Q, Value, When
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from layers.reports import OPEN_STATUSES, can_transition
from layers.validation import validate_geometry


class Feature(models.Model):
    """Columns every published feature has; all of them are maintained by database triggers."""

    created_at = models.DateTimeField(_("tạo lúc"), db_default=Now(), editable=False)
    updated_at = models.DateTimeField(_("cập nhật lúc"), db_default=Now(), editable=False)
    created_by = models.CharField(_("người tạo"), max_length=150, blank=True, editable=False)
    updated_by = models.CharField(_("người cập nhật"), max_length=150, blank=True, editable=False)
    version = models.PositiveIntegerField(_("phiên bản"), db_default=1, default=1, editable=False)

    # Name of the geometry column that validation and publishing use.
    geometry_field = "geom"

    class Meta:
        abstract = True

    def clean(self) -> None:
        super().clean()
        geom = getattr(self, self.geometry_field, None)
        errors = validate_geometry(geom, self._meta.get_field(self.geometry_field))
        if errors:
            raise ValidationError({self.geometry_field: errors})


# --- Administrative units ---------------------------------------------------------------------
class AdminUnit(Feature):
    """Province, district (before 1 July 2025) or commune/ward of one generation."""

    class Level(models.TextChoices):
        PROVINCE = "province", _("Tỉnh / thành phố trực thuộc TW")
        DISTRICT = "district", _("Huyện / quận / thị xã / thành phố thuộc tỉnh")
        COMMUNE = "commune", _("Xã / phường / thị trấn")

    class Kind(models.TextChoices):
        TINH = "tinh", _("Tỉnh")
        THANH_PHO = "thanh_pho", _("Thành phố")
        THI_XA = "thi_xa", _("Thị xã")
        HUYEN = "huyen", _("Huyện")
        QUAN = "quan", _("Quận")
        PHUONG = "phuong", _("Phường")
        XA = "xa", _("Xã")
        THI_TRAN = "thi_tran", _("Thị trấn")

    class Generation(models.TextChoices):
        CENSUS_2009 = "2009", _("Ranh giới Tổng điều tra 2009")
        PRE_REFORM = "2024", _("Trước sắp xếp 01/07/2025")
        REFORM_2025 = "2025", _("Sau sắp xếp 01/07/2025")

    code = models.CharField(
        _("mã"), max_length=10, help_text=_("Mã đơn vị hành chính của Tổng cục Thống kê")
    )
    code_is_official = models.BooleanField(
        _("mã chính thức"),
        default=True,
        help_text=_("Sai khi mã là mã nội bộ của nguồn dữ liệu (ranh giới 2009)"),
    )
    name = models.CharField(_("tên"), max_length=120)
    full_name = models.CharField(_("tên đầy đủ"), max_length=160)
    kind = models.CharField(_("loại đơn vị"), max_length=12, choices=Kind.choices)
    level = models.CharField(_("cấp"), max_length=10, choices=Level.choices)
    generation = models.CharField(_("thế hệ ranh giới"), max_length=4, choices=Generation.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("đơn vị cấp trên"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    population = models.PositiveIntegerField(_("dân số"), null=True, blank=True)
    population_year = models.PositiveSmallIntegerField(
        _("năm số liệu dân số"), null=True, blank=True
    )
    area_km2 = models.FloatField(_("diện tích (km²)"), null=True, blank=True)
    valid_from = models.DateField(_("hiệu lực từ"), null=True, blank=True)
    valid_to = models.DateField(_("hiệu lực đến"), null=True, blank=True)
    source = models.CharField(_("nguồn"), max_length=200, blank=True)
    geom = models.MultiPolygonField(_("ranh giới"), srid=4326)
    # Which published layer a unit belongs to: declared once, here, in the database, so the
    # change-capture trigger can name the layer of any row whatever client wrote it.
    layer = models.GeneratedField(
        expression=Case(
            When(Q(level="province", generation="2025"), then=Value("province")),
            When(Q(level="commune", generation="2025"), then=Value("communes")),
            When(Q(level="district", generation="2024"), then=Value("districts_2024")),
            When(Q(level="commune", generation="2009"), then=Value("communes_2009")),
            default=Value(None),
            output_field=models.CharField(max_length=32),
        ),
        output_field=models.CharField(max_length=32, null=True),
        db_persist=True,
    )

    class Meta:
        verbose_name = _("đơn vị hành chính")
        verbose_name_plural = pgettext_lazy("plural", "đơn vị hành chính")
        constraints = [
            models.UniqueConstraint(
                fields=["generation", "level", "code"], name="adminunit_unique_code"
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True)
                | Q(valid_from__isnull=True)
                | Q(valid_to__gte=models.F("valid_from")),
                name="adminunit_valid_period",
            ),
        ]
        indexes = [models.Index(fields=["layer"])]

    def __str__(self) -> str:
        return self.full_name


class CommuneCrosswalk(models.Model):
    """Old commune (before 1 July 2025) → the new commune that absorbed it.

    From Resolution 1683/NQ-UBTVQH15; a partly split commune has one row per successor.
    """

    class MergeType(models.TextChoices):
        FULL = "full", _("Toàn bộ")
        PARTIAL = "partial", _("Một phần")

    old_code = models.CharField(_("mã xã cũ"), max_length=10)
    old_name = models.CharField(_("tên xã cũ"), max_length=160)
    old_district_code = models.CharField(_("mã huyện cũ"), max_length=10, blank=True)
    old_district_name = models.CharField(_("tên huyện cũ"), max_length=160, blank=True)
    old_province_code = models.CharField(_("mã tỉnh cũ"), max_length=4, blank=True)
    old_district = models.ForeignKey(
        AdminUnit,
        verbose_name=_("huyện cũ"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="crosswalk_as_old_district",
        limit_choices_to={"layer": "districts_2024"},
    )
    new_unit = models.ForeignKey(
        AdminUnit,
        verbose_name=_("xã mới"),
        on_delete=models.PROTECT,
        related_name="crosswalk_predecessors",
        limit_choices_to={"layer": "communes"},
    )
    merge_type = models.CharField(_("hình thức"), max_length=8, choices=MergeType.choices)

    class Meta:
        verbose_name = _("bảng chuyển đổi xã cũ → xã mới")
        verbose_name_plural = pgettext_lazy("plural", "bảng chuyển đổi xã cũ → xã mới")
        constraints = [
            models.UniqueConstraint(fields=["old_code", "new_unit"], name="crosswalk_unique_pair")
        ]

    def __str__(self) -> str:
        return f"{self.old_name} → {self.new_unit}"


class InCommune(Feature):
    """A point feature whose commune (2025 units) is found from its location by the database."""

    commune = models.ForeignKey(
        AdminUnit,
        verbose_name=_("xã/phường"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        abstract = True


class AccessLevel(models.TextChoices):
    PUBLIC = "public", _("Công khai")
    INTERNAL = "internal", _("Nội bộ")
    RESTRICTED = "restricted", _("Hạn chế")


# --- Cameras ----------------------------------------------------------------------------------
class Camera(InCommune):
    class Kind(models.TextChoices):
        FIXED = "fixed", _("Cố định")
        PTZ = "ptz", _("PTZ (quay quét)")
        DOME = "dome", _("Dome (bán cầu)")
        BULLET = "bullet", _("Thân trụ (bullet)")

    class Purpose(models.TextChoices):
        SURVEILLANCE = "surveillance", _("Giám sát an ninh trật tự")
        TRAFFIC = "traffic", _("Giám sát giao thông")
        ANPR = "anpr", _("Nhận dạng biển số")
        SECURITY = "security", _("An ninh")

    class Status(models.TextChoices):
        ONLINE = "online", _("Trực tuyến")
        OFFLINE = "offline", _("Mất kết nối")
        MAINTENANCE = "maintenance", _("Bảo trì")

    code = models.CharField(_("mã camera"), max_length=32, unique=True)
    name = models.CharField(_("tên"), max_length=200)
    kind = models.CharField(_("loại"), max_length=10, choices=Kind.choices, default=Kind.FIXED)
    purpose = models.CharField(_("mục đích"), max_length=14, choices=Purpose.choices)
    geom = models.PointField(_("vị trí"), srid=4326)
    bearing = models.FloatField(
        _("hướng nhìn (°)"),
        validators=[MinValueValidator(0), MaxValueValidator(360)],
        help_text=_("Góc phương vị tính từ hướng Bắc, theo chiều kim đồng hồ"),
    )
    fov_angle = models.FloatField(
        _("góc nhìn (°)"), validators=[MinValueValidator(1), MaxValueValidator(360)]
    )
    range_m = models.FloatField(
        _("tầm nhìn (m)"), validators=[MinValueValidator(1), MaxValueValidator(5000)]
    )
    fov = models.PolygonField(_("vùng quan sát"), srid=4326, null=True, blank=True, editable=False)
    status = models.CharField(
        _("trạng thái"), max_length=12, choices=Status.choices, default=Status.ONLINE
    )
    last_seen_at = models.DateTimeField(_("lần cuối trực tuyến"), null=True, blank=True)
    stream_url = models.URLField(_("luồng video (HLS/WebRTC)"), max_length=500, blank=True)
    snapshot_url = models.URLField(_("ảnh chụp nhanh"), max_length=500, blank=True)
    agency = models.CharField(_("đơn vị quản lý"), max_length=200)
    access_level = models.CharField(
        _("mức truy cập"), max_length=10, choices=AccessLevel.choices, default=AccessLevel.INTERNAL
    )
    address = models.CharField(_("địa chỉ"), max_length=300, blank=True)
    installed_on = models.DateField(_("ngày lắp đặt"), null=True, blank=True)

    class Meta:
        verbose_name = _("camera")
        verbose_name_plural = pgettext_lazy("plural", "camera")
        constraints = [
            models.CheckConstraint(
                condition=Q(bearing__gte=0, bearing__lte=360), name="camera_bearing_range"
            ),
            models.CheckConstraint(
                condition=Q(fov_angle__gte=1, fov_angle__lte=360), name="camera_fov_range"
            ),
            models.CheckConstraint(
                condition=Q(range_m__gt=0, range_m__lte=5000), name="camera_range_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


# --- Education and health ---------------------------------------------------------------------
class Ownership(models.TextChoices):
    PUBLIC = "public", _("Công lập")
    PRIVATE = "private", _("Ngoài công lập")


class School(InCommune):
    class Level(models.TextChoices):
        MAM_NON = "mam_non", _("Mầm non")
        TIEU_HOC = "tieu_hoc", _("Tiểu học")
        THCS = "thcs", _("Trung học cơ sở")
        THPT = "thpt", _("Trung học phổ thông")
        LIEN_CAP = "lien_cap", _("Liên cấp")
        GDTX = "gdtx", _("Giáo dục thường xuyên")
        NGHE = "nghe", _("Giáo dục nghề nghiệp")
        DAI_HOC = "dai_hoc", _("Đại học / cao đẳng")

    code = models.CharField(_("mã trường"), max_length=32, unique=True)
    name = models.CharField(_("tên trường"), max_length=200)
    level = models.CharField(_("cấp học"), max_length=10, choices=Level.choices)
    ownership = models.CharField(
        _("loại hình"), max_length=8, choices=Ownership.choices, default=Ownership.PUBLIC
    )
    pupils = models.PositiveIntegerField(_("số học sinh"), null=True, blank=True)
    teachers = models.PositiveIntegerField(_("số giáo viên"), null=True, blank=True)
    address = models.CharField(_("địa chỉ"), max_length=300, blank=True)
    osm_id = models.CharField(_("OSM id"), max_length=20, blank=True)
    geom = models.PointField(_("vị trí"), srid=4326)

    class Meta:
        verbose_name = _("trường học")
        verbose_name_plural = pgettext_lazy("plural", "trường học")

    def __str__(self) -> str:
        return self.name


class HealthFacility(InCommune):
    class Kind(models.TextChoices):
        HOSPITAL = "hospital", _("Bệnh viện")
        MEDICAL_CENTER = "medical_center", _("Trung tâm y tế")
        HEALTH_STATION = "health_station", _("Trạm y tế xã/phường")
        CLINIC = "clinic", _("Phòng khám")
        PHARMACY = "pharmacy", _("Nhà thuốc")

    code = models.CharField(_("mã cơ sở"), max_length=32, unique=True)
    name = models.CharField(_("tên cơ sở"), max_length=200)
    kind = models.CharField(_("loại"), max_length=16, choices=Kind.choices)
    ownership = models.CharField(
        _("loại hình"), max_length=8, choices=Ownership.choices, default=Ownership.PUBLIC
    )
    beds = models.PositiveIntegerField(_("số giường bệnh"), null=True, blank=True)
    staff = models.PositiveIntegerField(_("số nhân viên y tế"), null=True, blank=True)
    address = models.CharField(_("địa chỉ"), max_length=300, blank=True)
    phone = models.CharField(_("điện thoại"), max_length=30, blank=True)
    osm_id = models.CharField(_("OSM id"), max_length=20, blank=True)
    geom = models.PointField(_("vị trí"), srid=4326)

    class Meta:
        verbose_name = _("cơ sở y tế")
        verbose_name_plural = pgettext_lazy("plural", "cơ sở y tế")

    def __str__(self) -> str:
        return self.name


# --- Traffic ----------------------------------------------------------------------------------
class RoadSegment(Feature):
    class RoadClass(models.TextChoices):
        NATIONAL = "national", _("Quốc lộ")
        EXPRESSWAY = "expressway", _("Đường cao tốc")
        PROVINCIAL = "provincial", _("Đường tỉnh")
        URBAN = "urban", _("Đường đô thị")
        LOCAL = "local", _("Đường huyện/xã")

    class Congestion(models.TextChoices):
        UNKNOWN = "unknown", _("Chưa có số liệu")
        FREE = "free", _("Thông thoáng")
        LIGHT = "light", _("Đông nhẹ")
        MODERATE = "moderate", _("Đông")
        HEAVY = "heavy", _("Ùn tắc")
        BLOCKED = "blocked", _("Tắc nghẽn / cấm đường")

    code = models.CharField(_("mã đoạn"), max_length=32, unique=True)
    name = models.CharField(_("tên đường"), max_length=200)
    road_ref = models.CharField(_("số hiệu đường"), max_length=20, blank=True)
    road_class = models.CharField(_("cấp đường"), max_length=10, choices=RoadClass.choices)
    speed_limit_kmh = models.PositiveSmallIntegerField(
        _("tốc độ tối đa (km/h)"), null=True, blank=True
    )
    congestion = models.CharField(
        _("mức ùn tắc"), max_length=10, choices=Congestion.choices, default=Congestion.UNKNOWN
    )
    congestion_updated_at = models.DateTimeField(_("cập nhật ùn tắc lúc"), null=True, blank=True)
    average_speed_kmh = models.FloatField(_("tốc độ trung bình (km/h)"), null=True, blank=True)
    length_m = models.FloatField(_("chiều dài (m)"), null=True, blank=True, editable=False)
    geom = models.LineStringField(_("tuyến"), srid=4326)

    class Meta:
        verbose_name = _("đoạn đường")
        verbose_name_plural = pgettext_lazy("plural", "đoạn đường")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class TrafficNode(InCommune):
    class Kind(models.TextChoices):
        INTERSECTION = "intersection", _("Nút giao")
        SIGNAL = "signal", _("Đèn tín hiệu")
        COUNTER = "counter", _("Trạm đếm xe")
        LPR_CAMERA = "lpr_camera", _("Camera nhận dạng biển số")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Hoạt động")
        FAULT = "fault", _("Sự cố")
        MAINTENANCE = "maintenance", _("Bảo trì")
        OFFLINE = "offline", _("Mất kết nối")

    code = models.CharField(_("mã nút"), max_length=32, unique=True)
    name = models.CharField(_("tên"), max_length=200)
    kind = models.CharField(_("loại"), max_length=14, choices=Kind.choices)
    status = models.CharField(
        _("trạng thái"), max_length=12, choices=Status.choices, default=Status.ACTIVE
    )
    road = models.ForeignKey(
        RoadSegment,
        verbose_name=_("đoạn đường"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="nodes",
    )
    last_seen_at = models.DateTimeField(_("lần cuối kết nối"), null=True, blank=True)
    geom = models.PointField(_("vị trí"), srid=4326)

    class Meta:
        verbose_name = _("nút giao thông")
        verbose_name_plural = pgettext_lazy("plural", "nút giao thông")

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


# --- Citizen field reports (phản ánh hiện trường) ---------------------------------------------
class FieldReport(InCommune):
    class Category(models.TextChoices):
        ROAD_DAMAGE = "road_damage", _("Hư hỏng đường, cầu")
        TRAFFIC = "traffic", _("An toàn giao thông")
        FLOODING = "flooding", _("Ngập úng, thoát nước")
        WASTE = "waste", _("Rác thải, vệ sinh môi trường")
        LIGHTING = "lighting", _("Chiếu sáng công cộng")
        PUBLIC_ORDER = "public_order", _("An ninh trật tự")
        ENCROACHMENT = "encroachment", _("Lấn chiếm vỉa hè, lòng đường")
        CONSTRUCTION = "construction", _("Trật tự xây dựng")
        OTHER = "other", _("Khác")

    class Status(models.TextChoices):
        NEW = "new", _("Mới")
        RECEIVED = "received", _("Đã tiếp nhận")
        ASSIGNED = "assigned", _("Đã chuyển xử lý")
        IN_PROGRESS = "in_progress", _("Đang xử lý")
        RESOLVED = "resolved", _("Đã xử lý")
        CLOSED = "closed", _("Đã đóng")
        REJECTED = "rejected", _("Từ chối")

    tracking_code = models.CharField(
        _("mã tra cứu"),
        max_length=20,
        unique=True,
        blank=True,
        help_text=_("Mã công khai để người dân theo dõi; để trống sẽ tự sinh"),
    )
    category = models.CharField(_("lĩnh vực"), max_length=14, choices=Category.choices)
    title = models.CharField(_("tiêu đề"), max_length=200)
    description = models.TextField(_("nội dung"), max_length=4000)
    status = models.CharField(
        _("trạng thái"), max_length=12, choices=Status.choices, default=Status.NEW
    )
    submitted_at = models.DateTimeField(_("gửi lúc"), db_default=Now())
    due_at = models.DateTimeField(
        _("hạn xử lý"), null=True, blank=True, help_text=_("Để trống: theo thời hạn của lĩnh vực")
    )
    resolved_at = models.DateTimeField(_("xử lý xong lúc"), null=True, blank=True, editable=False)
    responsible_unit = models.CharField(_("đơn vị xử lý"), max_length=200, blank=True)
    address = models.CharField(_("địa chỉ"), max_length=300, blank=True)
    media_url = models.URLField(_("ảnh/video"), max_length=500, blank=True)
    reporter_name = models.CharField(_("người phản ánh"), max_length=120, blank=True)
    reporter_phone = models.CharField(_("điện thoại người phản ánh"), max_length=30, blank=True)
    reporter_email = models.EmailField(_("email người phản ánh"), blank=True)
    geom = models.PointField(_("vị trí"), srid=4326)

    class Meta:
        verbose_name = _("phản ánh hiện trường")
        verbose_name_plural = pgettext_lazy("plural", "phản ánh hiện trường")
        indexes = [models.Index(fields=["status", "due_at"])]

    OPEN_STATUSES = OPEN_STATUSES

    def __str__(self) -> str:
        return f"{self.tracking_code} — {self.title}"

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        # The status as stored: the workflow allows only some transitions from it.
        instance._stored_status = instance.__dict__.get("status")
        return instance

    def clean(self) -> None:
        super().clean()
        stored = getattr(self, "_stored_status", None)
        if self._state.adding and self.status != self.Status.NEW:
            raise ValidationError({"status": _("Phản ánh mới phải bắt đầu ở trạng thái “Mới”.")})
        if stored and not can_transition(stored, self.status):
            raise ValidationError(
                {
                    "status": _("Không thể chuyển phản ánh từ “%(a)s” sang “%(b)s”.")
                    % {
                        "a": self.Status(stored).label,
                        "b": self.Status(self.status).label,
                    }
                }
            )


class FieldReportStatusChange(models.Model):
    """Public status history of a field report; written by a database trigger on every change."""

    report = models.ForeignKey(
        FieldReport,
        verbose_name=_("phản ánh"),
        on_delete=models.CASCADE,
        related_name="status_changes",
    )
    from_status = models.CharField(
        _("từ trạng thái"), max_length=12, choices=FieldReport.Status.choices, blank=True
    )
    to_status = models.CharField(
        _("sang trạng thái"), max_length=12, choices=FieldReport.Status.choices
    )
    changed_at = models.DateTimeField(_("thời điểm"), db_default=Now())
    changed_by = models.CharField(_("người thực hiện"), max_length=150, blank=True)
    note = models.TextField(_("ghi chú"), blank=True)

    class Meta:
        verbose_name = _("lịch sử trạng thái phản ánh")
        verbose_name_plural = pgettext_lazy("plural", "lịch sử trạng thái phản ánh")
        ordering = ["changed_at", "id"]


# --- Change capture ---------------------------------------------------------------------------
class FeatureHistory(models.Model):
    """One row per insert/update/delete of a published feature, written by ``ioc_capture()``."""

    class Op(models.TextChoices):
        INSERT = "I", _("Thêm mới")
        UPDATE = "U", _("Sửa")
        DELETE = "D", _("Xoá")

    layer = models.CharField(_("lớp"), max_length=32, null=True)
    table_name = models.CharField(_("bảng"), max_length=63)
    feature_id = models.BigIntegerField(_("mã đối tượng"))
    op = models.CharField(_("thao tác"), max_length=1, choices=Op.choices)
    version = models.PositiveIntegerField(_("phiên bản"), null=True)
    actor = models.CharField(_("người thực hiện"), max_length=150)
    db_role = models.CharField(_("vai trò CSDL"), max_length=63)
    changed_at = models.DateTimeField(_("thời điểm"), db_default=Now())
    txid = models.BigIntegerField(_("giao dịch"))
    old_data = models.JSONField(_("giá trị cũ"), null=True)
    new_data = models.JSONField(_("giá trị mới"), null=True)
    old_geom = models.GeometryField(_("hình học cũ"), srid=4326, null=True, spatial_index=False)
    new_geom = models.GeometryField(_("hình học mới"), srid=4326, null=True, spatial_index=False)
    # Bounding box of all geometry columns (e.g. a camera's point and its FOV) before/after,
    # as [minx, miny, maxx, maxy] in lon/lat: what the tile cache invalidates.
    old_bbox = models.JSONField(_("khung bao cũ"), null=True)
    new_bbox = models.JSONField(_("khung bao mới"), null=True)

    class Meta:
        verbose_name = _("lịch sử thay đổi")
        verbose_name_plural = pgettext_lazy("plural", "lịch sử thay đổi")
        indexes = [
            models.Index(fields=["layer", "feature_id", "-id"]),
            models.Index(fields=["changed_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.layer}#{self.feature_id} v{self.version} {self.op} by {self.actor}"


class LayerAccess(models.Model):
    """No table: only anchors the per-layer permissions created from the registry."""

    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = _("quyền lớp dữ liệu")
