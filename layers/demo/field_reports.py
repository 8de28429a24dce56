"""About 90 days of synthetic citizen field reports, with their public status histories.

Each report gets a planned timeline (received → assigned → in progress → resolved → closed,
or rejected; a few reopened, a few stuck) from its category's deadline; the timeline is cut at
the anchor time, so old reports are closed and recent ones still open. Reports are inserted in
their final status (``ioc.allow_any_status``) and the status log the trigger wrote is replaced
by the historical timeline.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from shapely.geometry import Point

from layers.demo import ACTOR, SYNTHETIC, sources
from layers.demo.db import copy_rows, ewkt, execute, fetch, present_keys, section_state
from layers.demo.geo import Commune, Context, offset, round_point, sample_area, zone_pole
from layers.demo.traffic import HOW_TO_FIX, rng_for
from layers.reports import SLA, can_transition

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
DAYS = 90
TRAFFIC_POLICE = "Phòng Cảnh sát giao thông – Công an tỉnh Thái Nguyên"
CONSTRUCTION = "Sở Xây dựng tỉnh Thái Nguyên"

CATEGORY_WEIGHTS = {
    #               urban, rural
    "road_damage": (12, 18),
    "traffic": (10, 8),
    "flooding": (9, 8),
    "waste": (18, 20),
    "lighting": (11, 8),
    "public_order": (9, 8),
    "encroachment": (16, 6),
    "construction": (9, 12),
    "other": (6, 12),
}
# Hour of day (local) weights: morning and afternoon peaks, some evening.
HOUR_WEIGHTS = [1, 0, 0, 0, 0, 1, 3, 7, 9, 9, 8, 6, 4, 5, 7, 8, 8, 6, 4, 5, 5, 4, 3, 2]
DURATIONS = ("nhiều ngày nay", "đã hơn hai tuần", "từ đầu tháng đến nay", "khoảng một tuần nay",
             "đã lâu nhưng chưa được xử lý", "từ sau trận mưa lớn vừa qua")  # fmt: skip

# (title, description) templates per category. {place}: 'tổ dân phố 5, phường X';
# {road}: 'QL3' or 'đường trục xóm'; {where}: 'trên QL3 đoạn qua xã X' / 'tại xóm Y, xã X'.
TEMPLATES: dict[str, list[tuple[str, str]]] = {
    "road_damage": [
        (
            "Ổ gà lớn trên {road}",
            "Đoạn đường {where} xuất hiện nhiều ổ gà sâu 10–20 cm, trời mưa đọng nước không nhìn "
            "thấy, xe máy đi qua rất nguy hiểm. Đề nghị cơ quan chức năng sớm sửa chữa.",
        ),
        (
            "Mặt đường sụt lún, bong tróc tại {place}",
            "Mặt đường {where} bị sụt lún, bong tróc {duration}. Nhiều phương tiện phải tránh sang "
            "làn ngược chiều, tiềm ẩn nguy cơ tai nạn.",
        ),
        (
            "Nắp hố ga bị vỡ trên {road}",
            "Nắp hố ga {where} bị vỡ, miệng hố hở ra giữa đường. Người dân đã tạm cắm cành cây "
            "cảnh báo nhưng buổi tối rất khó nhìn thấy.",
        ),
        (
            "Đường bê tông bị nứt vỡ tại {place}",
            "Đường bê tông {where} bị nứt vỡ thành nhiều mảng, xe chở nông sản đi lại khó khăn. "
            "Kính đề nghị chính quyền xem xét đưa vào kế hoạch sửa chữa.",
        ),
        (
            "Đường bị xói lở sau mưa tại {place}",
            "Sau mưa lớn, lề đường {where} bị xói lở sâu, taluy có nguy cơ sạt tiếp. Đề nghị cắm "
            "biển cảnh báo và gia cố sớm.",
        ),
        (
            "Cầu dân sinh xuống cấp tại {place}",
            "Cầu dân sinh {where} bị mục, lan can gãy {duration}. Học sinh đi qua hằng ngày, gia "
            "đình rất lo lắng.",
        ),
    ],
    "traffic": [
        (
            "Đèn tín hiệu giao thông không hoạt động tại {place}",
            "Đèn tín hiệu tại nút giao {where} không hoạt động từ sáng nay, giờ cao điểm các "
            "phương "
            "tiện tranh nhau đi, rất dễ va chạm.",
        ),
        (
            "Xe tải đỗ lấn làn trên {road}",
            "Nhiều xe tải đỗ dưới lòng đường {where} để bốc dỡ hàng, che khuất tầm nhìn, gây ùn "
            "tắc vào giờ tan tầm.",
        ),
        (
            "Biển báo giao thông bị che khuất tại {place}",
            "Biển báo hạn chế tốc độ {where} bị cây xanh che khuất {duration}, người đi đường "
            "không "
            "quan sát được.",
        ),
        (
            "Xe chở vật liệu không che chắn đi qua {place}",
            "Xe chở đất đá, vật liệu đi qua {where} không che chắn, rơi vãi ra đường gây trơn "
            "trượt "
            "và bụi bẩn.",
        ),
        (
            "Tụ tập đua xe ban đêm trên {road}",
            "Khoảng 23 giờ hằng đêm có nhóm thanh thiếu niên tụ tập đua xe, nẹt pô {where}, gây "
            "mất an toàn giao thông.",
        ),
        (
            "Cây đổ chắn ngang đường tại {place}",
            "Một cây lớn bị gió quật đổ chắn gần hết mặt đường {where}. Đề nghị lực lượng chức "
            "năng đến xử lý khẩn cấp.",
        ),
    ],
    "flooding": [
        (
            "Ngập úng sau mưa tại {place}",
            "Mỗi khi mưa to, khu vực {where} ngập sâu 30–40 cm, nước rút rất chậm, người dân đi "
            "lại "
            "khó khăn, nước tràn vào nhà.",
        ),
        (
            "Cống thoát nước bị tắc tại {place}",
            "Cống thoát nước {where} bị rác và bùn đất lấp kín {duration}, nước thải tràn ra mặt "
            "đường bốc mùi hôi.",
        ),
        (
            "Mương thoát nước bị bồi lấp tại {place}",
            "Mương tiêu {where} bị bồi lấp, nước không thoát được, ruộng và vườn của các hộ xung "
            "quanh bị ngập úng.",
        ),
        (
            "Rãnh thoát nước hở, bốc mùi tại {place}",
            "Rãnh thoát nước {where} không có nắp đậy, bốc mùi hôi thối, ruồi muỗi nhiều, ảnh "
            "hưởng "
            "sức khỏe người dân.",
        ),
    ],
    "waste": [
        (
            "Rác thải tồn đọng nhiều ngày tại {place}",
            "Rác sinh hoạt {where} không được thu gom {duration}, bốc mùi hôi thối, chó mèo bới "
            "tung ra đường.",
        ),
        (
            "Đổ trộm phế thải xây dựng ven {road}",
            "Có người đổ trộm phế thải xây dựng, gạch vỡ thành đống lớn {where}, lấn cả ra lòng "
            "đường. Đề nghị xử lý và kiểm tra camera để tìm người vi phạm.",
        ),
        (
            "Điểm tập kết rác gây ô nhiễm tại {place}",
            "Điểm tập kết rác {where} quá tải, nước rỉ rác chảy ra đường, mùi hôi ảnh hưởng đến "
            "các hộ dân và trường học gần đó.",
        ),
        (
            "Đốt rác gây khói bụi tại {place}",
            "Một số hộ thường xuyên đốt rác, rơm rạ {where} vào buổi chiều, khói bay vào khu dân "
            "cư "
            "gây khó thở.",
        ),
        (
            "Xác động vật chết trên mương tại {place}",
            "Có xác lợn chết trôi trên mương {where}, bốc mùi nặng. Đề nghị tiêu hủy và khử trùng "
            "khu vực.",
        ),
    ],
    "lighting": [
        (
            "Đèn đường không sáng tại {place}",
            "Hệ thống đèn chiếu sáng {where} không sáng {duration}, buổi tối đường tối om, người "
            "dân "
            "đi làm về muộn rất lo ngại.",
        ),
        (
            "Cột đèn chiếu sáng bị nghiêng tại {place}",
            "Một cột đèn chiếu sáng {where} bị nghiêng hẳn sau va chạm, có nguy cơ đổ vào người và "
            "phương tiện.",
        ),
        (
            "Đèn chiếu sáng bật cả ban ngày tại {place}",
            "Đèn đường {where} bật sáng cả ngày {duration}, gây lãng phí điện.",
        ),
        (
            "Dây điện chiếu sáng bị đứt, buông thấp tại {place}",
            "Dây cáp chiếu sáng {where} bị đứt, buông thấp sát mặt đường, rất nguy hiểm cho người "
            "đi đường.",
        ),
    ],
    "public_order": [
        (
            "Tụ tập gây mất trật tự ban đêm tại {place}",
            "Thường xuyên có nhóm thanh niên tụ tập uống rượu, gây ồn ào đến khuya {where}, ảnh "
            "hưởng đến sinh hoạt của người dân.",
        ),
        (
            "Hát karaoke gây ồn sau 22 giờ tại {place}",
            "Một hộ gia đình {where} mở loa kéo hát karaoke công suất lớn đến quá nửa đêm "
            "{duration}.",
        ),
        (
            "Trộm cắp tài sản xảy ra nhiều lần tại {place}",
            "Thời gian gần đây {where} liên tiếp xảy ra mất trộm xe máy, gà vịt. Đề nghị công an "
            "tăng cường tuần tra.",
        ),
        (
            "Nghi vấn tụ tập đánh bạc tại {place}",
            "Có dấu hiệu nhiều người tụ tập đánh bạc vào buổi tối {where}. Đề nghị cơ quan công an "
            "kiểm tra, xử lý.",
        ),
    ],
    "encroachment": [
        (
            "Lấn chiếm vỉa hè để kinh doanh tại {place}",
            "Nhiều hộ kinh doanh {where} bày hàng hóa, để xe kín vỉa hè, người đi bộ phải đi xuống "
            "lòng đường.",
        ),
        (
            "Họp chợ tạm lấn chiếm lòng đường {road}",
            "Chợ tạm họp buổi sáng {where} lấn ra giữa lòng đường, gây ùn tắc và mất an toàn giao "
            "thông.",
        ),
        (
            "Dựng lều quán trái phép ven {road}",
            "Một số hộ dựng lều quán tạm trên hành lang an toàn đường bộ {where} {duration}.",
        ),
        (
            "Để vật liệu xây dựng chiếm lòng đường tại {place}",
            "Một công trình {where} đổ cát, đá, gạch chiếm gần nửa lòng đường, không có biển báo, "
            "ban đêm rất nguy hiểm.",
        ),
    ],
    "construction": [
        (
            "Xây dựng không phép tại {place}",
            "Một hộ dân {where} đang xây nhà nhiều tầng nhưng không treo biển báo cấp phép xây "
            "dựng. Đề nghị kiểm tra.",
        ),
        (
            "Công trình thi công không che chắn tại {place}",
            "Công trình {where} thi công không che chắn, bụi và vật liệu rơi xuống đường, ảnh "
            "hưởng "
            "các hộ xung quanh.",
        ),
        (
            "Xây dựng lấn chiếm đất công tại {place}",
            "Có hộ dân {where} xây tường rào lấn ra đất hành lang mương thủy lợi và đất công.",
        ),
        (
            "San lấp đất nông nghiệp trái phép tại {place}",
            "Nhiều xe chở đất san lấp ruộng lúa {where} vào ban đêm, nghi không có giấy phép "
            "chuyển "
            "mục đích sử dụng đất.",
        ),
    ],
    "other": [
        (
            "Cây xanh có nguy cơ gãy đổ tại {place}",
            "Cây xanh lớn {where} bị mục gốc, nghiêng ra đường. Mùa mưa bão sắp tới có nguy cơ gãy "
            "đổ, đề nghị cắt tỉa.",
        ),
        (
            "Nước sinh hoạt bị đục, có mùi tại {place}",
            "Nước máy cấp cho các hộ {where} bị đục, có mùi lạ {duration}. Đề nghị đơn vị cấp nước "
            "kiểm tra chất lượng.",
        ),
        (
            "Sạt lở đất đe dọa nhà dân tại {place}",
            "Taluy dương sau nhà dân {where} có vết nứt, đất đá sạt xuống khi mưa. Đề nghị khảo "
            "sát "
            "và có phương án di dời.",
        ),
        (
            "Chó thả rông không rọ mõm tại {place}",
            "Nhiều chó thả rông {where}, không đeo rọ mõm, đã có trẻ em bị cắn.",
        ),
        (
            "Khói bụi từ cơ sở sản xuất tại {place}",
            "Cơ sở sản xuất {where} thải khói bụi, tiếng ồn cả ngày đêm ảnh hưởng đến khu dân cư.",
        ),
    ],
}
RESOLVED_NOTES = {
    "road_damage": "Đã vá ổ gà, hoàn trả mặt đường.",
    "traffic": "Lực lượng chức năng đã có mặt, xử lý và bảo đảm giao thông.",
    "flooding": "Đã nạo vét, khơi thông hệ thống thoát nước.",
    "waste": "Đã thu gom, vận chuyển rác và vệ sinh khu vực.",
    "lighting": "Đã sửa chữa, khôi phục chiếu sáng.",
    "public_order": "Công an đã xác minh và xử lý theo quy định.",
    "encroachment": "Đã lập biên bản, yêu cầu tháo dỡ, trả lại mặt bằng.",
    "construction": "Đã kiểm tra, lập biên bản và xử lý vi phạm trật tự xây dựng.",
    "other": "Đã kiểm tra, xử lý và trả lời người dân.",
}
REJECT_NOTES = (
    "Trùng nội dung với phản ánh đã tiếp nhận trước đó.",
    "Nội dung không thuộc phạm vi tiếp nhận của hệ thống.",
    "Thông tin chưa đủ để xác minh; đề nghị người dân bổ sung và gửi lại.",
    "Sau khi xác minh, nội dung phản ánh không đúng thực tế.",
)
CHANNELS = ("ứng dụng di động", "cổng thông tin điện tử", "tổng đài tiếp nhận phản ánh")
SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hà", "Ma", "Nông",
            "Lương", "Triệu", "Lục", "Dương", "Ngô", "Đào")  # fmt: skip
MALE = (
    "Văn Hùng",
    "Đức Thắng",
    "Minh Tuấn",
    "Văn Dũng",
    "Quang Huy",
    "Văn Sơn",
    "Hữu Long",
    "Văn Nam",
    "Mạnh Cường",
    "Trung Hiếu",
    "Tiến Đạt",
    "Văn Quân",
    "Đình Phúc",
    "Công Thành",
)
FEMALE = (
    "Thị Lan",
    "Thị Hương",
    "Thu Hà",
    "Thị Mai",
    "Phương Thảo",
    "Thị Hạnh",
    "Ngọc Anh",
    "Thị Trang",
    "Thùy Linh",
    "Thị Yến",
    "Minh Phương",
    "Thị Nga",
    "Thu Huyền",
)
MOBILE_PREFIXES = ("091", "094", "088", "098", "097", "096", "086", "036", "037", "038", "039",
                   "090", "093", "070", "079", "081", "082", "083", "084", "085")  # fmt: skip


@dataclass
class Step:
    from_status: str
    to_status: str
    at: datetime
    note: str


@dataclass
class PlannedReport:
    tracking_code: str
    category: str
    title: str
    description: str
    submitted_at: datetime
    point: Point
    address: str
    responsible_unit: str
    reporter_name: str = ""
    reporter_phone: str = ""
    reporter_email: str = ""
    media_url: str = ""
    steps: list[Step] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.steps[-1].to_status

    @property
    def resolved_at(self) -> datetime | None:
        if self.status not in ("resolved", "closed"):
            return None
        return next(s.at for s in reversed(self.steps) if s.to_status == "resolved")


def _ascii(text: str) -> str:
    import unicodedata

    text = text.replace("đ", "d").replace("Đ", "D")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _reporter(rng: random.Random) -> tuple[str, str, str]:
    if rng.random() < 0.4:  # anonymous
        return "", "", ""
    name = f"{rng.choice(SURNAMES)} {rng.choice(MALE if rng.random() < 0.55 else FEMALE)}"
    phone = (
        f"{rng.choice(MOBILE_PREFIXES)}{rng.randint(0, 9_999_999):07d}"
        if rng.random() < 0.8
        else ""
    )
    email = ""
    if rng.random() < 0.15:
        email = f"{_ascii(name).replace(' ', '.')}{rng.randint(1, 99)}@example.com"
    return name, phone, email


class _Sites:
    """Where reports of a commune come from: hamlets (centre, OSM villages) and national roads."""

    def __init__(self, ctx: Context) -> None:
        self.roads: dict[str, list] = {c.code: [] for c in ctx.communes}
        for road in ctx.roads:
            for p, bearing, _ in road.stations(250.0):
                commune = ctx.commune_at(p)
                if commune is not None:
                    self.roads[commune.code].append((p, bearing, road))

    def hamlet(self, rng: random.Random, commune: Commune) -> tuple[Point, str]:
        options = [(commune.center, "")] + [(v.point, v.name) for v in commune.villages]
        options += [(None, name) for name, area in commune.predecessors if area is not None]
        anchor, name = rng.choice(options)
        if anchor is None:  # an old commune merged into this one: its area
            area = next(a for n, a in commune.predecessors if n == name)
            point = sample_area(area, rng, zone_pole(area), 700 if commune.urban else 1500)
            where = f"{commune.hamlet_word} {rng.randint(1, 15)}"
            if sources.name_key(name) != sources.name_key(commune.name):
                where += f" ({commune.old_labels.get(name, name)} cũ)"
        else:
            point = commune.sample(rng, anchor, 450 if commune.urban else 1300)
            where = f"{commune.hamlet_word} {name or rng.randint(1, 25)}"
        return point, f"{where}, {commune.label}"


def _timeline(rng: random.Random, category: str, submitted: datetime, unit: str) -> list[Step]:
    """The whole planned life of a report (later cut at the anchor).

    The steps are spread over a planned handling time from the category's deadline: most
    reports are resolved in time, some late, a few rejected, reopened or stuck.
    """
    sla = SLA.get(category, timedelta(days=7))
    late = rng.random() < 0.08
    planned = sla * (rng.uniform(1.1, 2.0) if late else rng.uniform(0.35, 0.95))

    def at(low: float, high: float) -> datetime:
        return submitted + planned * rng.uniform(low, high)

    steps = [Step("", "new", submitted, f"Người dân gửi phản ánh qua {rng.choice(CHANNELS)}.")]
    received = at(0.03, 0.12)
    roll = rng.random()
    if roll < 0.02:
        steps.append(Step("new", "rejected", received, rng.choice(REJECT_NOTES)))
        return steps
    steps.append(
        Step("new", "received", received, "Trung tâm IOC đã tiếp nhận, đang xác minh nội dung.")
    )
    if roll < 0.06:
        steps.append(Step("received", "rejected", at(0.15, 0.4), rng.choice(REJECT_NOTES)))
        return steps
    if rng.random() < 0.75:
        steps.append(
            Step("received", "assigned", at(0.15, 0.3), f"Chuyển {unit} xử lý theo thẩm quyền.")
        )
        steps.append(
            Step(
                "assigned",
                "in_progress",
                at(0.35, 0.6),
                f"{unit} đã cử cán bộ kiểm tra hiện trường.",
            )
        )
    else:
        steps.append(Step("received", "in_progress", at(0.2, 0.5), f"{unit} đang xử lý."))
    if rng.random() < 0.005:  # stuck: waiting for funds or another agency
        return steps
    t = submitted + planned
    steps.append(Step("in_progress", "resolved", t, RESOLVED_NOTES[category]))
    h = timedelta(hours=1)
    if rng.random() < 0.03:  # the citizen disagrees: reopened, then fixed again
        t += rng.uniform(12, 72) * h
        steps.append(
            Step(
                "resolved",
                "in_progress",
                t,
                "Người dân phản hồi chưa được xử lý dứt điểm; yêu cầu xử lý lại.",
            )
        )
        t += rng.uniform(24, 96) * h
        steps.append(Step("in_progress", "resolved", t, RESOLVED_NOTES[category]))
    t += rng.uniform(20, 120) * h
    note = (
        "Người dân xác nhận kết quả xử lý; đóng phản ánh."
        if rng.random() < 0.6
        else "Hết thời hạn phản hồi của người dân; tự động đóng phản ánh."
    )
    steps.append(Step("resolved", "closed", t, note))
    return steps


def _daytime(rng: random.Random, steps: list[Step]) -> list[Step]:
    """Staff act between 06:00 and 22:00: night-time steps move to the next morning; times
    are whole seconds and never go backwards."""
    previous = None
    for step in steps:
        t = step.at.astimezone(LOCAL).replace(microsecond=0)
        automatic = step.note.startswith("Hết thời hạn")
        if step.from_status and not automatic and not 6 <= t.hour < 22:
            morning = t if t.hour < 6 else t + timedelta(days=1)
            t = morning.replace(hour=6, minute=30, second=0) + timedelta(
                seconds=rng.randrange(0, 4 * 3600)
            )
        if previous is not None and t <= previous:
            t = previous + timedelta(minutes=rng.randint(5, 90))
        step.at = previous = t
    return steps


def plan_reports(ctx: Context) -> list[PlannedReport]:
    rng = rng_for("field_reports")
    sites = _Sites(ctx)
    anchor = ctx.anchor.astimezone(LOCAL)
    communes = ctx.communes
    weights = [c.population * (1.8 if c.urban else 1.0) for c in communes]
    first_day = anchor.date() - timedelta(days=DAYS - 1)
    reports: list[PlannedReport] = []
    for d in range(DAYS):
        day = first_day + timedelta(days=d)
        n = rng.gauss(22, 3.5) * (0.75 if day.weekday() >= 5 else 1.0)
        n = min(30, max(15, round(n)))
        times = sorted(
            datetime(
                day.year,
                day.month,
                day.day,
                rng.choices(range(24), HOUR_WEIGHTS)[0],
                rng.randrange(60),
                rng.randrange(60),
                tzinfo=LOCAL,
            )
            for _ in range(n)
        )
        for submitted in times:
            commune = rng.choices(communes, weights)[0]
            cats = list(CATEGORY_WEIGHTS)
            category = rng.choices(
                cats, [w[0 if commune.urban else 1] for w in CATEGORY_WEIGHTS.values()]
            )[0]
            on_road = (
                category in ("road_damage", "traffic", "encroachment", "waste")
                and sites.roads[commune.code]
                and rng.random() < 0.5
            )
            if on_road:
                p, bearing, road = rng.choice(sites.roads[commune.code])
                q = round_point(offset(p, rng.uniform(3, 20), (bearing + 90) % 360))
                point = q if commune.contains(q) else round_point(p)
                place = f"{road.name}, {commune.label}"
                where = f"trên {road.ref} đoạn qua {commune.label}"
                road_text = road.ref
            else:
                point, place = sites.hamlet(rng, commune)
                where = f"tại {place}"
                road_text = rng.choice(
                    ("đường trục xóm", "đường liên xã", "đường ngõ xóm")
                    if not commune.urban
                    else ("đường nội phường", "tuyến phố chính", "đường ngõ")
                )
            if category in ("public_order",):
                unit = f"Công an {commune.label}"
            elif category == "traffic":
                unit = TRAFFIC_POLICE if on_road else f"Công an {commune.label}"
            elif category == "road_damage" and on_road:
                unit = CONSTRUCTION
            else:
                unit = f"UBND {commune.label}"
            title, text = rng.choice(TEMPLATES[category])
            values = {
                "place": place,
                "where": where,
                "road": road_text,
                "duration": rng.choice(DURATIONS),
            }
            name, phone, email = _reporter(rng)
            steps = [
                s
                for s in _daytime(rng, _timeline(rng, category, submitted, unit))
                if s.at <= anchor
            ]
            if not steps:
                continue
            report = PlannedReport(
                tracking_code="",
                category=category,
                title=title.format(**values)[:200],
                description=text.format(**values),
                submitted_at=submitted,
                point=point,
                address=f"{place}, tỉnh Thái Nguyên {SYNTHETIC}"[:300],
                responsible_unit=unit,
                reporter_name=name,
                reporter_phone=phone,
                reporter_email=email,
                steps=steps,
            )
            if rng.random() < 0.45:
                report.media_url = "media"  # filled in once the code is known
            reports.append(report)
    reports.sort(key=lambda r: r.submitted_at)
    for i, report in enumerate(reports, start=1):
        report.tracking_code = f"PA-{report.submitted_at:%y%m%d}-{i:06d}"
        if report.media_url:
            report.media_url = (
                f"https://ioc.thainguyen.gov.vn/media/phan-anh/{report.tracking_code}.jpg"
            )
        for step in report.steps[1:]:
            if not can_transition(step.from_status, step.to_status):
                raise RuntimeError(f"bad planned transition {step.from_status}→{step.to_status}")
    return reports


REPORT_COLUMNS = (
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
    "reporter_name",
    "reporter_phone",
    "reporter_email",
    "geom",
)
STATUS_COLUMNS = ("report_id", "from_status", "to_status", "changed_at", "changed_by", "note")


def load_reports(ctx: Context) -> tuple[int, str] | None:
    reports = plan_reports(ctx)
    if not section_state(
        "field reports",
        {r.tracking_code for r in reports},
        present_keys("layers_fieldreport", "tracking_code"),
        HOW_TO_FIX.format(table="layers_fieldreport"),
    ):
        return None
    # Insert each report in its final status; the status-log trigger writes one row each,
    # replaced below by the historical timeline.
    execute("SELECT set_config('ioc.allow_any_status', 'on', true)")
    copy_rows(
        "layers_fieldreport",
        REPORT_COLUMNS,
        (
            (
                r.tracking_code,
                r.category,
                r.title,
                r.description,
                r.status,
                r.submitted_at,
                None,
                r.resolved_at,
                r.responsible_unit,
                r.address,
                r.media_url,
                r.reporter_name,
                r.reporter_phone,
                r.reporter_email,
                ewkt(r.point),
            )
            for r in reports
        ),
    )
    execute("SELECT set_config('ioc.allow_any_status', '', true)")
    ids = dict(
        fetch(
            "SELECT tracking_code, id FROM layers_fieldreport WHERE tracking_code = ANY(%s)",
            [[r.tracking_code for r in reports]],
        )
    )
    execute(
        "DELETE FROM layers_fieldreportstatuschange WHERE report_id = ANY(%s)", [list(ids.values())]
    )
    steps = copy_rows(
        "layers_fieldreportstatuschange",
        STATUS_COLUMNS,
        (
            (ids[r.tracking_code], s.from_status, s.to_status, s.at, ACTOR, s.note)
            for r in reports
            for s in r.steps
        ),
    )
    by: dict[str, int] = {}
    for r in reports:
        by[r.status] = by.get(r.status, 0) + 1
    summary = ", ".join(f"{k} {v}" for k, v in sorted(by.items(), key=lambda kv: -kv[1]))
    return len(reports), f"{steps} status changes; {summary}"
