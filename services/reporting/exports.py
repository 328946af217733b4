"""The ledger (台账) as a township keeps it: one row per case under Chinese headers, as CSV (UTF-8
with a byte-order mark, so that spreadsheet programs read the Chinese right) or XLSX. Pure: rows
and the county's labels in, bytes out."""
import csv
import io
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

STATUS = {"registered": "已登记", "guided": "已导入法定途径", "assigned": "已交办", "signed": "已签收",
          "returned": "已退回", "in_progress": "办理中", "suspended": "已中止", "not_accepted": "不予受理",
          "resolved": "已办结", "followed_up": "已回访", "under_review": "复查复核中", "closed": "已结案"}
CHANNELS = {"visit": "来访", "letter": "来信", "phone": "来电", "hotline": "12345热线", "online": "网上",
            "grid_report": "网格上报", "proxy": "代办", "referral": "上级交办"}
CLASSES = {"discipline": "纪检举报", "litigation": "涉法涉诉", "administrative": "行政职责",
           "civil_dispute": "矛盾纠纷", "petition": "信访诉求"}
RISK = {"blue": "蓝色（低）", "yellow": "黄色（中）", "red": "红色（高）"}
OUTCOMES = {"demand_met": "合理诉求解决到位", "explained": "思想教育到位", "relieved": "困难帮扶到位",
            "referred": "违法行为依法处理"}
RATINGS = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}
COLUMNS = [  # (header, how a row gives it)
    ("编号", lambda r, c: r["number"]),
    ("登记时间", lambda r, c: _local(r["registered_at"], c)),
    ("渠道", lambda r, c: CHANNELS.get(r["channel"], r["channel"])),
    ("乡镇（街道）", lambda r, c: _name(c, r["township"])),
    ("村（社区）", lambda r, c: _name(c, r["village"])),
    ("事项类别", lambda r, c: (c.categories.get(r["category"]) or {}).get("label", r["category"])),
    ("分类", lambda r, c: CLASSES.get(r["channel_class"], r["channel_class"])),
    ("事由", lambda r, c: r["subject"]),
    ("办理状态", lambda r, c: STATUS.get(r["status"], r["status"])),
    ("责任单位", lambda r, c: _name(c, r["body"], bodies=True)),
    ("风险等级", lambda r, c: RISK.get(r["risk"], r["risk"])),
    ("重复信访次数", lambda r, c: r["repeat_count"]),
    ("办结时间", lambda r, c: _local(r["resolved_at"], c)),
    ("办理结果", lambda r, c: OUTCOMES.get(r["outcome"], r["outcome"])),
    ("群众评价", lambda r, c: RATINGS.get(r["rating"], r["rating"])),
    ("结案时间", lambda r, c: _local(r["closed_at"], c)),
]


def _name(county, code, bodies=False):
    if code is None:
        return ""
    found = county.bodies.get(code) if bodies else county.nodes.get(code)
    return found.name if found else code


def _local(moment, county):
    return "" if moment is None else moment.astimezone(ZoneInfo(county.timezone)).strftime("%Y-%m-%d %H:%M")


XLSX_ROWS = 1_048_575  # a sheet holds 1,048,576 rows, the header one of them


def _lines(rows, county):
    """One line per case, every cell as the ledger shows it."""
    return [[_cell(f(r, county)) for _, f in COLUMNS] for r in rows]


def _cell(value):
    """A value as a cell; text a spreadsheet would take for a formula (a subject that starts with
    "=" …) is kept as text."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def as_csv(batches, county):
    """The ledger as CSV, a batch of rows at a time (bytes): any size, never all in memory."""
    yield _csv([[h for h, _ in COLUMNS]], prefix="\ufeff")
    for rows in batches:
        yield _csv(_lines(rows, county))


def _csv(lines, prefix=""):
    out = io.StringIO()
    csv.writer(out).writerows(lines)
    return (prefix + out.getvalue()).encode("utf-8")


def as_xlsx(batches, county, title="台账"):
    """The ledger as one XLSX sheet (at most XLSX_ROWS cases), rows written as they come."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    sheet.freeze_panes = "A2"
    for i, (header, _) in enumerate(COLUMNS, 1):
        sheet.column_dimensions[get_column_letter(i)].width = max(10, 2 * len(header) + 2)
    sheet.append([h for h, _ in COLUMNS])
    for rows in batches:
        for line in _lines(rows, county):
            sheet.append(line)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
