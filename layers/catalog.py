"""The province's published layers: one declaration each.

Adding a layer is one ``registry.register(...)`` here; the contract suite in
``tests/test_layer_contract.py`` then checks it automatically.
"""

from layers import models as m
from layers.registry import Access, FeatureLayer, Style, Text, registry

ADMIN_FIELDS = (
    "code",
    "name",
    "full_name",
    "kind",
    "population",
    "population_year",
    "area_km2",
    "valid_from",
    "valid_to",
    "version",
    "updated_at",
)
STAMPS = ("version", "updated_at")

ATTR_ADMIN_2025 = (
    "Ranh giới: gis.vn / sapnhap.bando.com.vn qua lamngockhuong/vietnam-3d-map (MIT); "
    "sáp nhập: dvhcvn (MIT)"
)
ATTR_ADMIN_2024 = "Ranh giới: gis.chinhphu.vn qua daohoangson/dvhcvn"
ATTR_CENSUS_2009 = "Ranh giới và dân số Tổng điều tra 2009: LucieContamin/censusVN2009 (MIT)"
ATTR_OSM = "© OpenStreetMap contributors (ODbL 1.0)"
ATTR_SYNTHETIC = "Dữ liệu mô phỏng (demo) / synthetic demo data"
ATTR_ROADS = "Quốc lộ: CTU-SematX/LegoCity (CC-BY-4.0)"

REPORT_STATUS_COLORS = {
    "new": "#e53935",
    "received": "#fb8c00",
    "assigned": "#fdd835",
    "in_progress": "#1e88e5",
    "resolved": "#43a047",
    "closed": "#757575",
    "rejected": "#8e24aa",
}
CAMERA_STATUS_COLORS = {"online": "#2e7d32", "offline": "#c62828", "maintenance": "#f9a825"}
CONGESTION_COLORS = {
    "unknown": "#9e9e9e",
    "free": "#2e7d32",
    "light": "#9ccc65",
    "moderate": "#fbc02d",
    "heavy": "#e65100",
    "blocked": "#b71c1c",
}

registry.register(
    FeatureLayer(
        id="province",
        title=Text("Tỉnh Thái Nguyên", "Thái Nguyên province"),
        description=Text(
            "Ranh giới tỉnh Thái Nguyên sau sắp xếp ngày 01/07/2025 (sáp nhập tỉnh Bắc Kạn).",
            "Thái Nguyên province after the 1 July 2025 reform (Bắc Kạn merged in).",
        ),
        group="admin",
        keywords=("hành chính", "tỉnh", "administrative boundary", "province"),
        model=m.AdminUnit,
        filter={"layer": "province"},
        create_defaults={"level": "province", "generation": "2025"},
        public_fields=ADMIN_FIELDS,
        editable=True,
        style=Style(kind="fill", color="rgba(0,0,0,0)", outline="#5d4037", width=2.5, opacity=1),
        attribution=ATTR_ADMIN_2025,
        temporal_field=None,
    )
)
registry.register(
    FeatureLayer(
        id="communes",
        title=Text("Xã, phường (từ 01/07/2025)", "Communes and wards (from 1 July 2025)"),
        description=Text(
            "92 đơn vị hành chính cấp xã của tỉnh Thái Nguyên theo Nghị quyết 1683/NQ-UBTVQH15.",
            "The 92 commune-level units of Thái Nguyên under Resolution 1683/NQ-UBTVQH15.",
        ),
        group="admin",
        keywords=("hành chính", "xã", "phường", "commune", "ward"),
        model=m.AdminUnit,
        filter={"layer": "communes"},
        create_defaults={"level": "commune", "generation": "2025"},
        public_fields=ADMIN_FIELDS,
        style=Style(
            kind="fill",
            color="#fff8e1",
            outline="#8d6e63",
            width=1,
            opacity=0.35,
            label_field="name",
        ),
        attribution=ATTR_ADMIN_2025,
        temporal_field=None,
    )
)
registry.register(
    FeatureLayer(
        id="districts_2024",
        title=Text("Huyện, thành phố (trước 01/07/2025)", "Districts (before 1 July 2025)"),
        description=Text(
            "17 đơn vị cấp huyện của Thái Nguyên và Bắc Kạn trước khi bỏ cấp huyện.",
            "The 17 districts of Thái Nguyên and Bắc Kạn before the district level was abolished.",
        ),
        group="admin",
        keywords=("hành chính", "huyện", "district", "pre-2025"),
        model=m.AdminUnit,
        filter={"layer": "districts_2024"},
        create_defaults={"level": "district", "generation": "2024"},
        public_fields=ADMIN_FIELDS,
        style=Style(
            kind="fill",
            color="rgba(0,0,0,0)",
            outline="#6a1b9a",
            width=1.5,
            opacity=1,
            label_field="name",
        ),
        attribution=ATTR_ADMIN_2024,
        visible_by_default=False,
        temporal_field=None,
    )
)
registry.register(
    FeatureLayer(
        id="communes_2009",
        title=Text("Xã, phường (ranh giới 2009)", "Communes (2009 census boundaries)"),
        description=Text(
            "303 xã, phường, thị trấn của Thái Nguyên và Bắc Kạn với dân số Tổng điều tra 2009.",
            "303 communes of Thái Nguyên and Bắc Kạn with 2009 census population.",
        ),
        group="admin",
        keywords=("hành chính", "xã", "dân số", "census 2009"),
        model=m.AdminUnit,
        filter={"layer": "communes_2009"},
        create_defaults={"level": "commune", "generation": "2009"},
        public_fields=ADMIN_FIELDS,
        style=Style(
            kind="fill",
            color="#e3f2fd",
            outline="#1565c0",
            width=0.8,
            opacity=0.3,
            label_field="name",
        ),
        attribution=ATTR_CENSUS_2009,
        visible_by_default=False,
        temporal_field=None,
    )
)
registry.register(
    FeatureLayer(
        id="cameras",
        title=Text("Camera giám sát", "Surveillance cameras"),
        description=Text(
            "Camera của nền tảng camera tập trung IOC: vị trí, hướng, vùng quan sát, trạng thái.",
            "Cameras of the IOC camera platform: location, bearing, field of view, status.",
        ),
        group="cameras",
        keywords=("camera", "an ninh", "giao thông", "CCTV", "surveillance"),
        access=Access.RESTRICTED,
        model=m.Camera,
        public_fields=(
            "code",
            "name",
            "kind",
            "purpose",
            "bearing",
            "fov_angle",
            "range_m",
            "status",
            "last_seen_at",
            "agency",
            "access_level",
            "address",
            "commune",
            *STAMPS,
        ),
        restricted_fields=("stream_url", "snapshot_url"),
        style=Style(
            kind="circle",
            color="#2e7d32",
            outline="#ffffff",
            radius=5,
            color_by=("status", CAMERA_STATUS_COLORS),
            secondary_geometry="fov",
        ),
        attribution=ATTR_SYNTHETIC,
    )
)
registry.register(
    FeatureLayer(
        id="schools",
        title=Text("Trường học", "Schools"),
        description=Text(
            "Cơ sở giáo dục từ mầm non đến trung học phổ thông, đại học.",
            "Schools from pre-school to upper secondary, and higher education.",
        ),
        group="education",
        keywords=("giáo dục", "trường học", "education", "school"),
        model=m.School,
        public_fields=(
            "code",
            "name",
            "level",
            "ownership",
            "pupils",
            "teachers",
            "address",
            "commune",
            *STAMPS,
        ),
        style=Style(
            kind="circle", color="#1565c0", outline="#ffffff", radius=4, label_field="name"
        ),
        attribution=f"{ATTR_OSM}; {ATTR_SYNTHETIC}",
    )
)
registry.register(
    FeatureLayer(
        id="health_facilities",
        title=Text("Cơ sở y tế", "Health facilities"),
        description=Text(
            "Bệnh viện, trung tâm y tế, trạm y tế xã/phường, phòng khám.",
            "Hospitals, district medical centres, commune health stations, clinics.",
        ),
        group="health",
        keywords=("y tế", "bệnh viện", "trạm y tế", "health", "hospital"),
        model=m.HealthFacility,
        public_fields=(
            "code",
            "name",
            "kind",
            "ownership",
            "beds",
            "staff",
            "address",
            "phone",
            "commune",
            *STAMPS,
        ),
        style=Style(
            kind="circle", color="#d81b60", outline="#ffffff", radius=4, label_field="name"
        ),
        attribution=f"{ATTR_OSM}; {ATTR_SYNTHETIC}",
    )
)
registry.register(
    FeatureLayer(
        id="traffic_nodes",
        title=Text("Nút giao thông", "Traffic nodes"),
        description=Text(
            "Nút giao, đèn tín hiệu, trạm đếm xe và camera nhận dạng biển số trên quốc lộ.",
            "Intersections, signals, traffic counters and licence-plate cameras on national roads.",
        ),
        group="traffic",
        keywords=("giao thông", "đèn tín hiệu", "traffic", "signal"),
        access=Access.INTERNAL,
        model=m.TrafficNode,
        public_fields=(
            "code",
            "name",
            "kind",
            "status",
            "road",
            "last_seen_at",
            "commune",
            *STAMPS,
        ),
        style=Style(kind="circle", color="#ef6c00", outline="#ffffff", radius=4),
        attribution=ATTR_SYNTHETIC,
    )
)
registry.register(
    FeatureLayer(
        id="road_segments",
        title=Text("Đoạn đường (ùn tắc)", "Road segments (congestion)"),
        description=Text(
            "Các đoạn quốc lộ với mức độ ùn tắc hiện tại.",
            "National road segments with their current congestion level.",
        ),
        group="traffic",
        keywords=("giao thông", "ùn tắc", "quốc lộ", "traffic", "congestion"),
        model=m.RoadSegment,
        public_fields=(
            "code",
            "name",
            "road_ref",
            "road_class",
            "speed_limit_kmh",
            "congestion",
            "congestion_updated_at",
            "average_speed_kmh",
            "length_m",
            *STAMPS,
        ),
        style=Style(
            kind="line",
            color="#9e9e9e",
            width=3,
            opacity=0.9,
            color_by=("congestion", CONGESTION_COLORS),
        ),
        attribution=f"{ATTR_ROADS}; {ATTR_SYNTHETIC}",
    )
)
registry.register(
    FeatureLayer(
        id="field_reports",
        title=Text("Phản ánh hiện trường", "Citizen field reports"),
        description=Text(
            "Phản ánh của người dân, theo dõi công khai bằng mã tra cứu.",
            "Citizens' field reports, publicly trackable by their tracking code.",
        ),
        group="reports",
        keywords=("phản ánh", "kiến nghị", "Open311", "citizen report"),
        model=m.FieldReport,
        key_field="tracking_code",
        temporal_field="submitted_at",
        public_fields=(
            "tracking_code",
            "category",
            "title",
            "description",
            "status",
            "submitted_at",
            "due_at",
            "resolved_at",
            "responsible_unit",
            "address",
            "media_url",
            "commune",
            *STAMPS,
        ),
        restricted_fields=("reporter_name", "reporter_phone", "reporter_email"),
        style=Style(
            kind="circle",
            color="#e53935",
            outline="#ffffff",
            radius=5,
            color_by=("status", REPORT_STATUS_COLORS),
        ),
        attribution=ATTR_SYNTHETIC,
    )
)
