"""Reading a township's ledger (台账): Chinese headers and values, dates as townships write
them, GB18030 and XLSX files, and a report naming each bad row — all without a database."""
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from fengqiao.config import REPO_ROOT
from fengqiao.county import load
from services.intake import domain, ledger

COUNTY = load(REPO_ROOT / "deploy/county/sample-county.yaml")
QS = ledger.Places(COUNTY, "QS")
SHANGHAI = ZoneInfo("Asia/Shanghai")
HEADER = "原编号,登记渠道,村（社区）,类别,事项,诉求内容,登记时间,信访人,身份证号,联系电话,住址"
GOOD = "TZ-001,来访,柳湾村,邻里纠纷,院墙占道,邻居扩建院墙占用通道,2026/3/5,王某某,110101199003074514,13800138000,柳湾村3组"


def fingerprint(kind, value):
    return f"{kind}#{value}"


def csv_of(*rows, encoding="utf-8", title=None):
    lines = ([title] if title else []) + [HEADER, *rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def row_of(line, **change):
    """One data line read as the importer reads it, with some cells changed."""
    [row] = ledger.read(csv_of(line)).rows
    return {**row.cells, **change}


def registration(line=GOOD, **change):
    return ledger.registration_of(COUNTY, QS, row_of(line, **change))


def errors_of(line=GOOD, **change):
    payload, errors = registration(line, **change)
    assert payload is None
    return {e["field"]: e["message"] for e in errors}


def test_chinese_headers_under_a_title_in_gb18030_with_blank_rows_skipped():
    data = csv_of(GOOD, ",,,,,,,,,,", GOOD.replace("TZ-001", "TZ-002"), ",,,,,,,,,,,,8", encoding="gb18030",
                  title="清水镇信访台账")
    sheet = ledger.read(data)
    assert sheet.format == "csv" and sheet.header_row == 2
    assert [r.number for r in sheet.rows] == [3, 5]  # the spreadsheet's own numbering
    assert sheet.headers["location"] == "村（社区）" and sheet.rows[0].cells["ledger_number"] == "TZ-001"
    payload, errors = ledger.registration_of(COUNTY, QS, sheet.rows[0].cells)
    assert errors == []
    assert payload["channel"] == "visit" and payload["location"] == "QS01" and payload["category"] == "neighbour_dispute"
    assert payload["received_at"] == datetime(2026, 3, 5, tzinfo=SHANGHAI)
    assert payload["petitioners"] == [{"name": "王某某", "id_number": "110101199003074514", "phone": "13800138000",
                                       "address": "柳湾村3组"}]


@pytest.mark.parametrize("encoding, prefix", [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("gbk", b""),
                                              ("utf-16", b"")])
def test_csv_in_each_encoding_spreadsheets_export(encoding, prefix):
    [row] = ledger.read(prefix + csv_of(GOOD, encoding=encoding)).rows
    assert row.cells["petitioners.0.name"] == "王某某" and row.cells["channel"] == "来访"


def test_tab_separated_text_and_quoted_multiline_cells():
    tsv = (HEADER.replace(",", "\t") + "\n" + GOOD.replace(",", "\t") + "\n").encode()
    assert ledger.read(tsv).rows[0].cells["subject"] == "院墙占道"
    quoted = csv_of(GOOD.replace("邻居扩建院墙占用通道", '"第一行,\n第二行"'), GOOD)
    rows = ledger.read(quoted).rows
    assert rows[0].cells["description"] == "第一行,\n第二行" and [r.number for r in rows] == [2, 3]


@pytest.mark.parametrize("written, code", [
    ("来访", "visit"), ("来信", "letter"), ("来电", "phone"), ("12345", "hotline"), ("网上", "online"),
    ("网格上报", "grid_report"), ("代办", "proxy"), ("上级交办", "referral"), ("letter", "letter"),
])
def test_channels_by_their_chinese_names_or_codes(written, code):
    assert registration(channel=written)[0]["channel"] == code


@pytest.mark.parametrize("written, code", [("柳湾村", "QS01"), ("柳湾", "QS01"), ("QS01", "QS01"),
                                           ("清水镇", "QS"), ("QS01-G1", "QS01-G1")])
def test_places_by_code_or_name_within_the_township(written, code):
    payload, errors = registration(location=written)
    assert errors == [] and payload["location"] == code


@pytest.mark.parametrize("written, code", [("土地纠纷", "land_dispute"), ("land_dispute", "land_dispute"),
                                           ("欠薪与劳动争议", "wage_arrears")])
def test_categories_by_label_or_code(written, code):
    assert registration(category=written)[0]["category"] == code


@pytest.mark.parametrize("cell, expected", [
    ("2026-03-05", datetime(2026, 3, 5)),
    ("2026/3/5", datetime(2026, 3, 5)),
    ("2026.3.5", datetime(2026, 3, 5)),
    ("2026年3月5日", datetime(2026, 3, 5)),
    ("2026-03-05 14:30", datetime(2026, 3, 5, 14, 30)),
    ("2026/3/5 9:05:07", datetime(2026, 3, 5, 9, 5, 7)),
    ("2026年3月5日 14时30分", datetime(2026, 3, 5, 14, 30)),
    (datetime(2026, 3, 5, 14, 30), datetime(2026, 3, 5, 14, 30)),   # an Excel date-time cell
    (date(2026, 3, 5), datetime(2026, 3, 5)),
    (46086.5, datetime(2026, 3, 5, 12, 0)),                          # an Excel serial number
])
def test_dates_as_ledgers_write_them_are_county_time(cell, expected):
    assert ledger.received_at(cell, "Asia/Shanghai") == expected.replace(tzinfo=SHANGHAI)


def test_an_explicit_offset_is_kept():
    moment = ledger.received_at("2026-03-05T06:30:00+00:00", "Asia/Shanghai")
    assert moment == datetime(2026, 3, 5, 14, 30, tzinfo=SHANGHAI)


@pytest.mark.parametrize("cell", ["2026-02-30", "昨天", "3/5/2026", "2026-03-05 25:00"])
def test_unreadable_dates_are_refused(cell):
    with pytest.raises(ValueError):
        ledger.received_at(cell, "Asia/Shanghai")
    assert "received_at" in errors_of(received_at=cell)


@pytest.mark.parametrize("change, field", [
    ({"petitioners.0.id_number": "110101199003074515"}, "petitioners.0.id_number"),  # check digit
    ({"category": "炼金"}, "category"),
    ({"subject": ""}, "subject"),
    ({"received_at": "2026-13-01"}, "received_at"),
    ({"channel": "飞鸽传书"}, "channel"),
    ({"location": "桃源村"}, "location"),    # a village of another township
    ({"petitioners.0.phone": "12345"}, "petitioners.0.phone"),
    ({"petitioners.0.id_number": 110101199003074514}, "petitioners.0.id_number"),  # typed as a number
])
def test_each_bad_cell_is_named_once(change, field):
    assert list(errors_of(**change)) == [field]


def test_the_channel_columns_fill_their_own_channel_only():
    hotline = registration(channel="12345", **{"hotline.order_id": "12345-0042", "petitioners.0.name": None,
                                               "petitioners.0.id_number": None, "petitioners.0.phone": None,
                                               "petitioners.0.address": None})[0]
    assert hotline["hotline"] == {"order_id": "12345-0042"} and hotline["anonymous"] is True
    proxy = registration(channel="代办", **{"proxy.agent": "赵代办", "proxy.consent": "是"})[0]
    assert proxy["proxy"] == {"agent": "赵代办", "consent": True, "consent_note": None}
    visit = registration(**{"proxy.agent": "赵代办"})[0]
    assert visit["proxy"] is None
    assert "proxy.consent" in errors_of(channel="代办", **{"proxy.agent": "赵代办"})


def test_anonymous_only_where_the_channel_allows_it():
    nobody = {"petitioners.0.name": "匿名", "petitioners.0.id_number": None, "petitioners.0.phone": None,
              "petitioners.0.address": None}
    assert registration(channel="来信", **nobody)[0]["anonymous"] is True
    visit = registration(**nobody)[0]  # the schema lets it through; the rules refuse it
    with pytest.raises(domain.Rejected) as refused:
        domain.new_case(COUNTY, visit)
    assert "petitioners" in refused.value.errors


def xlsx_of(rows):
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_ledger_with_excel_dates_and_numbers():
    data = xlsx_of([["清水镇2025年信访台账"], HEADER.split(","),
                    ["TZ-001", "来访", "柳湾村", "邻里纠纷", "院墙占道", "邻居扩建院墙占用通道",
                     datetime(2026, 3, 5, 14, 30), "王某某", "110101199003074514", 13800138000, "柳湾村3组"],
                    [None] * 11,
                    ["TZ-002", "来信", "QS01", "land_dispute", "地界", "地界争议", date(2026, 3, 6)]])
    sheet = ledger.read(data)
    assert sheet.format == "xlsx" and sheet.header_row == 2 and [r.number for r in sheet.rows] == [3, 5]
    first, _ = ledger.registration_of(COUNTY, QS, sheet.rows[0].cells)
    assert first["received_at"] == datetime(2026, 3, 5, 14, 30, tzinfo=SHANGHAI)
    assert first["petitioners"][0]["phone"] == "13800138000"
    second, errors = ledger.registration_of(COUNTY, QS, sheet.rows[1].cells)
    assert errors == [] and second["anonymous"] is True


def test_the_same_row_has_the_same_key_as_csv_or_xlsx_and_another_old_number_another():
    csv_row = ledger.read(csv_of(GOOD.replace("2026/3/5", "2026-03-05 14:30"))).rows[0].cells
    xlsx_row = ledger.read(xlsx_of([HEADER.split(","), ["TZ-001", "来访", "QS01", "neighbour_dispute", "院墙占道",
                                                        "邻居扩建院墙占用通道", datetime(2026, 3, 5, 14, 30), "王某某",
                                                        "110101199003074514", 13800138000, "柳湾村3组"]])).rows[0].cells

    def key(cells, ledger_number="TZ-001"):
        payload, errors = ledger.registration_of(COUNTY, QS, cells)
        assert errors == []
        return ledger.row_key(fingerprint, "QS", payload, ledger_number)

    assert key(csv_row) == key(xlsx_row)
    assert key(csv_row).startswith("ledger:QS:ledger#")
    assert key(csv_row, "TZ-009") != key(csv_row)


@pytest.mark.parametrize("data, status, says", [
    (b"", 400, "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 400, "binary"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, 400, ".xls"),
    ("name,phone\n王某某,13800138000\n".encode(), 400, "no header row"),
    ("渠道,地点,类别\n来访,QS01,土地纠纷\n".encode(), 400, "事项, 内容"),
    (b"PK\x03\x04 not really a zip", 400, "XLSX"),
])
def test_a_file_that_is_no_ledger_is_refused_whole(data, status, says):
    with pytest.raises(ledger.Refused) as refused:
        ledger.read(data)
    assert refused.value.status == status and says in refused.value.detail


def test_missing_columns_are_named_field_by_field():
    with pytest.raises(ledger.Refused) as refused:
        ledger.read("渠道,地点,类别\n来访,QS01,土地纠纷\n".encode())
    assert {e["field"] for e in refused.value.errors} == {"subject", "description"}


def test_too_many_rows_or_bytes_is_413(monkeypatch):
    monkeypatch.setattr(ledger, "MAX_ROWS", 2)
    with pytest.raises(ledger.Refused) as refused:
        ledger.read(csv_of(GOOD, GOOD, GOOD))
    assert refused.value.status == 413
    monkeypatch.setattr(ledger, "MAX_UPLOAD_BYTES", 100)
    with pytest.raises(ledger.Refused) as refused:
        ledger.read(csv_of(GOOD))
    assert refused.value.status == 413


def test_the_report_sorts_each_row_by_outcome():
    sheet = ledger.read(csv_of(GOOD, GOOD.replace("邻里纠纷", "炼金"), GOOD.replace("TZ-001", "TZ-003"),
                               GOOD.replace("TZ-001", "TZ-004"), GOOD.replace("TZ-001", "TZ-005")))
    answers = iter([{"number": "QS-2026-000001", "outcome": "registered"},
                    {"number": "QS-2026-000001", "outcome": "repeat_linked", "repeat_count": 1},
                    domain.Rejected({"received_at": "lies in the future"}),
                    {"number": "QS-2026-000001", "outcome": "same_request"}])
    keys = []

    def register(payload, key):
        keys.append(key)
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    report = ledger.import_rows(sheet, COUNTY, "QS", fingerprint, register)
    assert report["rows"] == 5 and len(set(keys)) == 4
    assert report["registered"] == [{"row": 2, "ledger_number": "TZ-001", "number": "QS-2026-000001"}]
    assert report["linked"] == [{"row": 4, "ledger_number": "TZ-003", "number": "QS-2026-000001", "repeat_count": 1}]
    assert report["already_imported"] == [{"row": 6, "ledger_number": "TZ-005", "number": "QS-2026-000001",
                                           "outcome": "same_request"}]
    category, future = report["rejected"]
    assert category["row"] == 3 and [(e["field"], e["column"]) for e in category["errors"]] == [("category", "类别")]
    assert future["row"] == 5 and future["errors"] == [
        {"field": "received_at", "column": "登记时间", "message": "lies in the future"}]


@pytest.mark.parametrize("scope, asked, township", [("QS", None, "QS"), ("QS", "QS", "QS"), ("SH", "BY", "BY")])
def test_the_township_is_the_importers_own_or_the_one_named(scope, asked, township):
    assert ledger.township_of_import(COUNTY, scope, asked) == township


@pytest.mark.parametrize("scope, asked, status", [
    ("SH", None, 400), ("SH", "QS01", 400), ("QS", "BY", 403),
    ("QS01", None, 403), ("QS01-G1", "QS", 403), ("NOWHERE", "QS", 403),  # a village's people, an unknown scope
])
def test_a_township_that_cannot_be_told_or_is_not_yours_is_refused(scope, asked, status):
    with pytest.raises(ledger.Refused) as refused:
        ledger.township_of_import(COUNTY, scope, asked)
    assert refused.value.status == status


@pytest.mark.parametrize("content_type, filename, fmt", [
    ("text/csv; charset=gb18030", None, "csv"), (ledger.XLSX_TYPE, None, "xlsx"),
    ("application/octet-stream", "台账.XLSX", "xlsx"), ("application/vnd.ms-excel", "台账.csv", "csv"),
    ("application/octet-stream", None, None),
])
def test_the_format_from_content_type_or_file_name(content_type, filename, fmt):
    assert ledger.format_of(content_type, filename) == fmt


def test_the_module_documents_every_accepted_header():
    for column in ledger.LEDGER_COLUMNS:
        for header in column.headers:
            assert header in ledger.__doc__, header
