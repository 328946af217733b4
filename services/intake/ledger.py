"""Ledger import (台账导入): a township moving off spreadsheets brings its existing ledger as
CSV or XLSX. Every row is read into a registration, checked by the same schema and rules as
`POST /cases`, and registered on its own, so a bad row never holds back a good one; the report
names each bad row (spreadsheet numbering: the header is row 1, or the row it sits on when a
title stands above it) with the field and column at fault. Each row's idempotency key is a
keyed hash of the township and the row's normalized content: importing the same ledger again,
as CSV or as XLSX, registers nothing twice.

Files: CSV in UTF-8 (with or without BOM), GB18030/GBK (what Chinese Excel exports) or UTF-16
(Excel's "Unicode text"), separated by commas, tabs or semicolons; XLSX (the first worksheet;
old .xls is refused: save it as .xlsx). The header row is looked for in the first 10 rows;
columns whose header is not below are ignored (序号, 备注, 办理结果 …).

Accepted headers (LEDGER_COLUMNS; spaces, `*` marks and full-width brackets do not matter):

  渠道 登记渠道 来源渠道 信访形式   channel*: 来访 来信 来电 12345 网上 网格上报 代办 上级交办
                                  (or 走访/电话/12345热线/网上信访/排查发现/交办, or the code)
  地点 村(社区) 所在村 发生地        location*: a node code, or a node's name in the township
                                  (柳湾村 or 柳湾)
  类别 事项类别 问题类别             category*: Chinese label (邻里纠纷) or code
  事项 标题 事由                    subject*
  内容 诉求内容 主要诉求 反映内容    description*
  登记时间 受理时间 来访时间         received_at: 2026-03-05, 2026/3/5, 2026.3.5, 2026年3月5日,
                                  2026-03-05 14:30(:00), ISO 8601, or an Excel date;
                                  naive times are county time (Asia/Shanghai)
  姓名 信访人 当事人                 the petitioner's name; blank or 匿名 on a channel that may
                                  be anonymous (letter, phone, 12345, online, referral)
  身份证号 身份证号码                id_number (typed as text: Excel loses digits of numbers)
  电话 联系电话 手机号               phone
  住址 家庭住址 地址                 address
  工单号 12345工单号                hotline.order_id (a 12345 row needs it)
  网格员                           grid_report.grid_worker } a 网格上报 row
  网格 网格编号                     grid_report.grid        } needs both
  代办员 代办人                     proxy.agent            } a 代办 row needs both;
  本人同意 同意代办                  proxy.consent (是/否)   } consent must be 是
  交办单位 来文单位                  referral.source_body     } a 上级交办 row
  交办文号 文号                     referral.document_number } needs both
  原编号 台账编号                    the township's old ledger number: echoed in the report,
                                  kept in the import record, part of the row's identity
  (* a required column)

One row is one petitioner; the channel-specific columns count only for their own channel.
"""
import csv
import hashlib
import io
import itertools
import json
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from marshmallow import ValidationError
from psycopg.types.json import Jsonb

from services.intake import domain
from services.intake.schemas import CaseRegistrationSchema

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_ROWS = 5000
MAX_UNPACKED_BYTES = 200 * 1024 * 1024  # an XLSX is a zip: refuse one that would inflate past this
MAX_COLUMNS = 100
HEADER_SEARCH_ROWS = 10  # a title (清水镇信访台账) often stands above the header
FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    key: str        # the registration field it fills (dotted when nested), or ledger_number
    headers: tuple  # accepted headers, the usual one first
    required: bool = False


LEDGER_COLUMNS = (
    Column("channel", ("渠道", "登记渠道", "来源渠道", "信访形式"), required=True),
    Column("location", ("地点", "村(社区)", "所在村", "发生地"), required=True),
    Column("category", ("类别", "事项类别", "问题类别"), required=True),
    Column("subject", ("事项", "标题", "事由"), required=True),
    Column("description", ("内容", "诉求内容", "主要诉求", "反映内容"), required=True),
    Column("received_at", ("登记时间", "受理时间", "来访时间")),
    Column("petitioners.0.name", ("姓名", "信访人", "当事人")),
    Column("petitioners.0.id_number", ("身份证号", "身份证号码")),
    Column("petitioners.0.phone", ("电话", "联系电话", "手机号")),
    Column("petitioners.0.address", ("住址", "家庭住址", "地址")),
    Column("hotline.order_id", ("工单号", "12345工单号")),
    Column("grid_report.grid_worker", ("网格员",)),
    Column("grid_report.grid", ("网格", "网格编号")),
    Column("proxy.agent", ("代办员", "代办人")),
    Column("proxy.consent", ("本人同意", "同意代办")),
    Column("referral.source_body", ("交办单位", "来文单位")),
    Column("referral.document_number", ("交办文号", "文号")),
    Column("ledger_number", ("原编号", "台账编号")),
)

CHANNEL_NAMES = {
    "来访": "visit", "走访": "visit", "来信": "letter", "来电": "phone", "电话": "phone",
    "12345": "hotline", "12345热线": "hotline", "12345工单": "hotline", "热线": "hotline",
    "网上": "online", "网上信访": "online", "网格上报": "grid_report", "排查发现": "grid_report",
    "代办": "proxy", "上级交办": "referral", "交办": "referral",
    **{code: code for code in domain.CHANNELS},
}
_YES, _NO = {"是", "同意", "已同意", "有", "y", "yes", "true", "1"}, {"否", "不同意", "未同意", "无", "n", "no", "false", "0"}
_ANONYMOUS_NAMES = {"匿名", "无名", "佚名"}
_PLACE_SUFFIXES = ("社区", "嘎查", "街道", "村", "镇", "乡")
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
                   r"(?:[\sT]*(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2})\s*秒?)?\s*分?)?")
_HEADER_NOISE = str.maketrans({"（": "(", "）": ")", "*": None, "＊": None, " ": None, "\u3000": None,
                               "\n": None, "\r": None, "\t": None, ":": None, "：": None})
_BY_HEADER = {h.translate(_HEADER_NOISE): c.key for c in LEDGER_COLUMNS for h in c.headers}
SUMMARY = ("Import a township's ledger (台账) from CSV or XLSX; each row registered as by POST /cases,"
           " bad rows reported; columns " + ", ".join(c.headers[0] for c in LEDGER_COLUMNS))


class Refused(Exception):
    """The whole upload is refused and nothing is imported: HTTP status, title, why, and the
    fields at fault as [{field, message}]."""

    def __init__(self, status, title, detail, errors=None):
        super().__init__(detail)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors


@dataclass
class Row:
    number: int  # the spreadsheet's row number
    cells: dict  # column key -> raw value (str from CSV; str, number or datetime from XLSX)


@dataclass
class Sheet:
    format: str
    header_row: int
    headers: dict  # column key -> the header as written in the file
    rows: list = field(default_factory=list)

    def column_of(self, error_field):
        """The file's header for an error's field: "hotline" -> the 工单号 column."""
        if error_field == "anonymous":
            error_field = "petitioners"
        if error_field in self.headers:
            return self.headers[error_field]
        return next((h for k, h in self.headers.items() if k.startswith(error_field + ".")), None)


# --- reading the file ---------------------------------------------------------------------

def format_of(content_type, filename=None):
    """csv, xlsx or None (then the content decides) from a content type or a file name."""
    content_type = (content_type or "").split(";")[0].strip().lower()
    if content_type == XLSX_TYPE:
        return "xlsx"
    if content_type in ("text/csv", "application/csv", "text/comma-separated-values"):
        return "csv"
    suffix = (filename or "").rsplit(".", 1)[-1].lower() if "." in (filename or "") else ""
    return suffix if suffix in FORMATS else None


def read(data, fmt=None):
    """The sheet of an uploaded ledger; Refused when it is too large or no ledger at all."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise Refused(413, "Ledger too large", f"a ledger file may hold at most {MAX_UPLOAD_BYTES // 2**20} MB;"
                      " split it and import the parts")
    if not data.strip():
        raise Refused(400, "Empty ledger", "the upload is empty", [{"field": "file", "message": "empty"}])
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise Refused(400, "Unreadable ledger", "an old Excel .xls workbook: save it as .xlsx or CSV",
                      [{"field": "file", "message": "not CSV or XLSX"}])
    fmt = fmt or ("xlsx" if data.startswith(b"PK\x03\x04") else "csv")
    records = _xlsx_records(data) if fmt == "xlsx" else _csv_records(data)
    return _sheet(fmt, records)


def _csv_records(data):
    text = _decode(data)
    if "\x00" in text:
        raise _not_a_ledger("binary content, not CSV text")
    head = "\n".join(text.splitlines()[:HEADER_SEARCH_ROWS])  # a title line above has no separators
    delimiter = max(",\t;", key=head.count)
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error as exc:
        raise _not_a_ledger(f"not valid CSV: {exc}") from exc


def _decode(data):
    """UTF-8 (BOM or not), UTF-16 with BOM, else GB18030 — what Chinese spreadsheets export."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _not_a_ledger("neither UTF-8 nor GB18030 text")


def _xlsx_records(data):
    import openpyxl  # imported here: only XLSX uploads need it

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(i.file_size for i in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise _not_a_ledger("not an XLSX workbook") from exc
    if unpacked > MAX_UNPACKED_BYTES:
        raise Refused(413, "Ledger too large", "the workbook unpacks to more than"
                      f" {MAX_UNPACKED_BYTES // 2**20} MB; split it and import the parts")
    try:  # a damaged or hostile workbook may fail in many ways inside openpyxl
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise _not_a_ledger(f"not a readable XLSX workbook ({exc.__class__.__name__})") from exc
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise _not_a_ledger("the workbook has no worksheet")
        for values in sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True):
            yield list(values)
    except Refused:
        raise
    except Exception as exc:
        raise _not_a_ledger(f"not a readable XLSX workbook ({exc.__class__.__name__})") from exc
    finally:
        book.close()


def _not_a_ledger(why):
    return Refused(400, "Unreadable ledger", why, [{"field": "file", "message": why}])


def _sheet(fmt, records):
    """Find the header among the first rows, then read each non-blank row below it."""
    head = []
    for values in records:
        head.append(values)
        if len(head) == HEADER_SEARCH_ROWS:
            break
    header_row, headers = _header(head)
    sheet = Sheet(fmt, header_row, {key: str(head[header_row - 1][i]).strip() for key, i in headers.items()})
    number = header_row
    for values in itertools.chain(head[header_row:], records):
        number += 1
        cells = {key: values[i] for key, i in headers.items() if i < len(values)}
        if all(_blank(v) for v in cells.values()):
            continue  # empty rows, or template rows with only a 序号, end and sprinkle ledgers
        if len(sheet.rows) == MAX_ROWS:
            raise Refused(413, "Ledger too large", f"a ledger may hold at most {MAX_ROWS} rows;"
                          " split it and import the parts")
        sheet.rows.append(Row(number, cells))
    return sheet


def _header(head):
    """(row number, {column key: index}) of the row naming the most known columns."""
    best, best_row = {}, 0
    for number, values in enumerate(head, start=1):
        found = {}
        for i, value in enumerate(values):
            key = _BY_HEADER.get(str(value or "").translate(_HEADER_NOISE))
            if key is not None and key not in found:
                found[key] = i
        if len(found) > len(best):
            best, best_row = found, number
    missing = [c for c in LEDGER_COLUMNS if c.required and c.key not in best]
    if not best:
        raise Refused(400, "Unreadable ledger", f"no header row found in the first {HEADER_SEARCH_ROWS} rows;"
                      " expected columns " + ", ".join(c.headers[0] for c in LEDGER_COLUMNS if c.required),
                      [{"field": c.key, "message": "no column " + "/".join(c.headers)} for c in missing])
    if missing:
        raise Refused(400, "Unreadable ledger", f"the header (row {best_row}) lacks required columns: "
                      + ", ".join(c.headers[0] for c in missing),
                      [{"field": c.key, "message": "no column " + "/".join(c.headers)} for c in missing])
    return best_row, best


def _blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


# --- which township ------------------------------------------------------------------------

def township_of_import(county, scope, requested=None):
    """The township whose ledger this is: the one named, else the importer's own (by scope).
    A township's ledger is imported by its own people or the county's: a village's people would
    register cases in their neighbours' villages, an unknown scope anywhere."""
    node = county.nodes.get(scope)
    if node is None or node.level not in ("county", "township"):
        raise Refused(403, "Forbidden", f"a township's ledger is imported by its township's or the county's people,"
                                        f" not from scope {scope}")
    own = scope if node.level == "township" else None
    if requested is None:
        if own is None:
            raise Refused(400, "Invalid request", "name the township whose ledger this is (township=…)",
                          [{"field": "township", "message": "required for an importer scoped to the whole county"}])
        return own
    requested_node = county.nodes.get(requested)
    if requested_node is None or requested_node.level != "township":
        raise Refused(400, "Invalid request", "not a township of this county",
                      [{"field": "township", "message": f"not a township of this county: {requested}"}])
    if own is not None and own != requested:
        raise Refused(403, "Forbidden", f"your scope covers township {own}, not {requested}")
    return requested


class Places:
    """A township's nodes by code and by name (柳湾村, or 柳湾 without its suffix)."""

    def __init__(self, county, township):
        self.township, self.name = township, county.nodes[township].name
        self.by_name = {}
        for node in county.nodes.values():
            if node.level != "county" and county.township_of(node.code).code == township:
                for key in (node.code, node.name, _short(node.name)):
                    self.by_name.setdefault(key, node.code)

    def code_of(self, value):
        return self.by_name.get(value) or self.by_name.get(_short(value))


def _short(name):
    return next((name[:-len(s)] for s in _PLACE_SUFFIXES if name.endswith(s) and len(name) > len(s)), name)


# --- one row -------------------------------------------------------------------------------

def registration_of(county, places, cells):
    """(registration as CaseRegistrationSchema loads it, or None; [{field, message}])."""
    raw, errors = _translated(county, places, cells)
    try:
        loaded = CaseRegistrationSchema().load(raw)
    except ValidationError as exc:
        failed = {e["field"] for e in errors}  # a value we could not read is reported once
        errors += [e for e in _flatten(exc.messages) if e["field"] not in failed]
        return None, sorted(errors, key=lambda e: e["field"])
    if errors:
        return None, sorted(errors, key=lambda e: e["field"])
    return loaded, []


def _translated(county, places, cells):
    """The row as a POST /cases body, Chinese values turned into codes; and what could not be."""
    text = {key: _text(value) for key, value in cells.items()}
    errors, body = [], {}

    def bad(key, message):
        errors.append({"field": key, "message": message})

    for key in ("subject", "description"):
        if text.get(key):
            body[key] = text[key]
    channel = text.get("channel")
    if channel:
        body["channel"] = CHANNEL_NAMES.get(channel.replace(" ", ""), channel)
        if body["channel"] not in domain.CHANNELS:
            bad("channel", f"unknown channel {channel!r}; use 来访, 来信, 来电, 12345, 网上, 网格上报, 代办 or 上级交办")
    if text.get("location"):
        body["location"] = places.code_of(text["location"]) or text["location"]
        if places.code_of(text["location"]) is None:
            bad("location", f"{text['location']!r} is no village, community, grid or code of {places.name}"
                            f" ({places.township})")
    if text.get("category"):
        body["category"] = _category_of(county, text["category"])
        if body["category"] is None:
            bad("category", f"unknown category {text['category']!r}; use one of "
                            + ", ".join(c["label"] for c in county.categories.values()))
    if not _blank(cells.get("received_at")):
        try:
            body["received_at"] = received_at(cells["received_at"], county.timezone).isoformat()
        except ValueError as exc:
            bad("received_at", str(exc))
    if isinstance(cells.get("petitioners.0.id_number"), (int, float)):
        bad("petitioners.0.id_number", "stored as a number, which loses digits: format the column as text")
    body.update(_people(body.get("channel"), text))
    block = domain.CHANNEL_DETAILS.get(body.get("channel"))
    if block:  # a channel's own columns count only on its rows
        details = {k.split(".", 1)[1]: v for k, v in text.items() if k.startswith(block + ".") and v}
        if "consent" in details:
            details["consent"] = _yes_no(details["consent"])
        if details:
            body[block] = details
    return body, errors


def _people(channel, text):
    person = {k.split(".")[-1]: v for k, v in text.items() if k.startswith("petitioners.0.") and v}
    if person.get("name") in _ANONYMOUS_NAMES and len(person) == 1:
        person = {}
    if person:
        return {"petitioners": [person]}
    if channel in domain.ANONYMOUS_ALLOWED and channel != "grid_report":
        return {"anonymous": True}  # a ledger has no other way to say it
    return {}


def _category_of(county, value):
    if value in county.categories:
        return value
    return next((code for code, c in county.categories.items() if c["label"] == value), None)


def _yes_no(value):
    lowered = value.strip().lower()
    return True if lowered in _YES else False if lowered in _NO else value


def _text(value):
    """A cell as text: Excel numbers without a trailing .0, dates as ISO."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (datetime, date)):
        value = value.isoformat()
    return str(value).strip() or None


def received_at(value, tz_name):
    """An aware datetime from a ledger cell; naive values are county time. ValueError if none."""
    tz = ZoneInfo(tz_name)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = _excel_serial(value)
    else:
        moment = _parse_date(str(value).strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _excel_serial(number):
    from openpyxl.utils.datetime import from_excel

    try:
        moment = from_excel(number)
    except (ValueError, OverflowError, TypeError) as exc:
        raise ValueError(f"not a date: {number!r}") from exc
    if not isinstance(moment, datetime):
        raise ValueError(f"not a date: {number!r}")
    return moment


def _parse_date(text):
    example = "write 2026-03-05, 2026/3/5 or 2026-03-05 14:30"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    match = _DATE.fullmatch(text)
    if match is None:
        raise ValueError(f"not a date: {text!r}; {example}")
    try:
        return datetime(*(int(part or 0) for part in match.groups()))
    except ValueError as exc:
        raise ValueError(f"no such date or time: {text!r}; {example}") from exc


def _flatten(messages, prefix=""):
    """marshmallow's nested messages as [{field, message}] with dotted paths."""
    errors = []
    for key, value in messages.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            errors += _flatten(value, f"{path}.")
            continue
        for message in value if isinstance(value, list) else [value]:
            if isinstance(message, dict):
                errors += _flatten(message, f"{path}.")
            else:
                errors.append({"field": path, "message": str(message)})
    return errors


def row_key(fingerprint, township, registration, ledger_number):
    """The row's idempotency key: a keyed hash (no ID number can be guessed back from it) of
    the township, the old ledger number and the normalized registration."""
    # unset fields left out: a new optional field in the schema must not make old rows look new
    registration = {k: v for k, v in registration.items() if v is not None}
    content = json.dumps({"township": township, "ledger_number": ledger_number, "registration": registration},
                         sort_keys=True, ensure_ascii=False, default=_json_value)
    return f"ledger:{township}:{fingerprint('ledger', content)}"


def _json_value(value):
    return value.astimezone(timezone.utc).isoformat() if isinstance(value, datetime) else str(value)


# --- the whole ledger ----------------------------------------------------------------------

def import_rows(sheet, county, township, fingerprint, register):
    """Register each good row through `register(registration, idempotency_key)` (one
    transaction each; it raises domain.Rejected for a row the rules refuse) and report."""
    places = Places(county, township)
    report = {"township": township, "format": sheet.format, "rows": len(sheet.rows),
              "registered": [], "linked": [], "already_imported": [], "rejected": []}
    for row in sheet.rows:
        ledger_number = _text(row.cells.get("ledger_number"))
        entry = {"row": row.number, **({"ledger_number": ledger_number} if ledger_number else {})}
        payload, errors = registration_of(county, places, row.cells)
        if payload is not None:
            try:
                result = register(payload, row_key(fingerprint, township, payload, ledger_number))
            except domain.Rejected as exc:
                errors = [{"field": k, "message": v} for k, v in sorted(exc.errors.items())]
        if errors:
            report["rejected"].append({**entry, "errors": [{**e, "column": sheet.column_of(e["field"])}
                                                           for e in errors]})
            continue
        entry["number"] = result["number"]
        if result["outcome"] == "registered":
            report["registered"].append(entry)
        elif result["outcome"] == "repeat_linked":
            report["linked"].append({**entry, "repeat_count": result["repeat_count"]})
        else:  # same_request: this row came before; same_hotline_order: the 12345 order did
            report["already_imported"].append({**entry, "outcome": result["outcome"]})
    return report


def record_import(tx, report, imported_by, file_fingerprint):
    """Keep who imported which file for which township, and what became of each row (no
    personal data: row numbers, case numbers and the reasons for refusal)."""
    import_id = uuid.uuid4()
    counts = {k: len(report[k]) for k in ("registered", "linked", "already_imported", "rejected")}
    tx.execute(
        "INSERT INTO ledger_imports (id, township, imported_by, imported_at, file_fingerprint, format, rows,"
        " registered, linked, already_imported, rejected, report)"
        " VALUES (%(id)s, %(township)s, %(by)s, now(), %(file)s, %(format)s, %(rows)s, %(registered)s,"
        " %(linked)s, %(already_imported)s, %(rejected)s, %(report)s)",
        {"id": import_id, "township": report["township"], "by": imported_by, "file": file_fingerprint,
         "format": report["format"], "rows": report["rows"], **counts, "report": Jsonb(report)})
    return import_id


def file_fingerprint(fingerprint, data):
    return fingerprint("ledger-file", hashlib.sha256(data).hexdigest())
