"""Ledger import (台账导入) through HTTP on the real database: good rows registered, each bad
row reported and nothing written for it, the same ledger imported again registers nothing."""
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import requests

from services.intake.service import IntakeService
from tests.integration.conftest import pool_of, web_port
from tests.integration.test_intake_http import INTAKE_DIR, token

YEAR = datetime.now(ZoneInfo("Asia/Shanghai")).year
HEADER = ["序号", "原编号", "登记渠道", "村（社区）", "类别", "事项", "诉求内容", "登记时间", "信访人", "身份证号",
          "联系电话", "住址"]
PERSON = ["王某某", "110101199003074514", "13800138000", "柳湾村3组"]
LEDGER = [
    HEADER,
    [1, "TZ-001", "来访", "柳湾村", "邻里纠纷", "院墙占道", "邻居扩建院墙占用通道", "2026/3/5", *PERSON],
    [2, "TZ-002", "来访", "柳湾村", "土地纠纷", "地界争议", "两户地界争议", "2026-03-06",
     "李某", "110101199003074515", "13900139000", ""],                                   # bad check digit
    [3, "TZ-003", "来电", "QS02", "炼金", "求长生", "来电询问", "2026-03-06 09:30", "赵某", "", "13700137000", ""],
    [4, "TZ-004", "来信", "柳湾村", "土地纠纷", "", "来信反映地界", "2026-03-07", "", "", "", ""],  # no subject
    [5, "TZ-005", "来访", "柳湾村", "供暖", "暖气不热", "暖气不热", "2026年13月1日", "钱某", "", "13600136000", ""],
    [6, "TZ-006", "来信", "QS02", "土地纠纷", "地界", "匿名来信反映地界争议", "2026-03-08 14:30", "", "", "", ""],
    [7, "TZ-007", "来电", "柳湾", "邻里纠纷", "院墙仍未拆", "再次反映院墙占道", "2026-03-09", *PERSON],  # a repeat
]


def csv_of(rows, encoding="gb18030"):
    return "\r\n".join(",".join(str(c) for c in row) for row in rows).encode(encoding)


def xlsx_of(rows):
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def intake(run_service, fresh_database):
    url = fresh_database(INTAKE_DIR)
    container = run_service(IntakeService, url)
    base = f"http://127.0.0.1:{web_port(container)}"

    def upload(data, content_type="text/csv", query="", scope="QS", role="clerk"):
        return requests.post(f"{base}/cases/import{query}", data=data,
                             headers={**token(role, scope=scope), "Content-Type": content_type})

    def rows(query, params=None):
        with pool_of(url) as pool, pool.connection() as conn:
            return conn.execute(query, params).fetchall()

    def counts():
        return {t: rows(f"SELECT count(*) AS n FROM {t}")[0]["n"]
                for t in ("cases", "petitioners", "repeat_petitions", "outbox")}

    upload.rows, upload.counts, upload.base = rows, counts, base
    return upload


def test_good_rows_are_registered_and_each_bad_row_is_reported_with_nothing_written(intake):
    r = intake(csv_of(LEDGER))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["rows"] == 7 and report["township"] == "QS"
    assert report["registered"] == [
        {"row": 2, "ledger_number": "TZ-001", "number": f"QS-{YEAR}-000001"},
        {"row": 7, "ledger_number": "TZ-006", "number": f"QS-{YEAR}-000002"}]
    assert report["linked"] == [{"row": 8, "ledger_number": "TZ-007", "number": f"QS-{YEAR}-000001",
                                 "repeat_count": 1}]
    assert report["already_imported"] == []
    rejected = {r["row"]: [(e["field"], e["column"]) for e in r["errors"]] for r in report["rejected"]}
    assert rejected == {3: [("petitioners.0.id_number", "身份证号")], 4: [("category", "类别")],
                        5: [("subject", "事项")], 6: [("received_at", "登记时间")]}
    # nothing of the bad rows was written: two cases, one named petitioner, one repeat
    assert {k: v for k, v in intake.counts().items() if k != "outbox"} == \
        {"cases": 2, "petitioners": 1, "repeat_petitions": 1}
    events = [r["routing_key"] for r in intake.rows("SELECT routing_key FROM outbox ORDER BY seq")]
    assert events.count("case.registered") == 2 and events.count("case.repeat_linked") == 1
    cases = intake.rows("SELECT number, channel, location, anonymous, received_at, idempotency_key FROM cases"
                        " ORDER BY number")
    assert [(c["channel"], c["location"], c["anonymous"]) for c in cases] == [("visit", "QS01", False),
                                                                             ("letter", "QS02", True)]
    assert cases[1]["received_at"] == datetime(2026, 3, 8, 14, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert all(c["idempotency_key"].startswith("ledger:QS:") for c in cases)
    stored = " ".join(str(c["idempotency_key"]) for c in cases)
    assert PERSON[1] not in stored and PERSON[2] not in stored


def test_importing_the_same_ledger_again_registers_nothing_twice(intake):
    first = intake(csv_of(LEDGER)).json()
    before = intake.counts()
    again = intake(csv_of(LEDGER, encoding="utf-8")).json()  # re-saved as UTF-8: the same rows
    assert again["registered"] == [] and again["linked"] == []
    assert [(r["row"], r["number"], r["outcome"]) for r in again["already_imported"]] == [
        (2, f"QS-{YEAR}-000001", "same_request"), (7, f"QS-{YEAR}-000002", "same_request"),
        (8, f"QS-{YEAR}-000001", "same_request")]
    assert again["rejected"] == first["rejected"]
    assert intake.counts() == before
    assert intake.rows("SELECT repeat_count FROM cases WHERE number = %s", (f"QS-{YEAR}-000001",))[0][
        "repeat_count"] == 1
    imports = intake.rows("SELECT township, imported_by, rows, registered, already_imported, rejected,"
                          " file_fingerprint FROM ledger_imports ORDER BY imported_at")
    assert [(i["registered"], i["already_imported"], i["rejected"]) for i in imports] == [(2, 0, 4), (0, 3, 4)]
    assert imports[0]["file_fingerprint"] != imports[1]["file_fingerprint"]  # two encodings, two files


def test_an_xlsx_ledger_uploaded_as_a_form_with_excel_dates(intake):
    rows = [["松河县清水镇矛盾纠纷排查台账"], HEADER,
            [1, "TZ-101", "网格上报", "QS01-G1", "环境污染", "河道垃圾", "网格员巡查发现河道堆放垃圾",
             datetime(2026, 3, 5, 8, 15), "", "", "", ""]]
    data = xlsx_of(rows)
    data_header = [*HEADER, "网格员", "网格"]
    rows[1], rows[2] = data_header, [*rows[2], "李网格", "QS01-G1"]
    r = requests.post(f"{intake.base}/cases/import?township=QS", headers=token("operator", scope="SH"),
                      files={"file": ("台账.xlsx", xlsx_of(rows), "application/octet-stream")})
    assert r.status_code == 200, r.text
    assert r.json()["format"] == "xlsx" and r.json()["rejected"] == []
    assert r.json()["registered"] == [{"row": 3, "ledger_number": "TZ-101", "number": f"QS-{YEAR}-000001"}]
    [case] = intake.rows("SELECT channel, details, received_at FROM cases")
    assert case["channel"] == "grid_report" and case["details"] == {"grid_worker": "李网格", "grid": "QS01-G1"}
    assert case["received_at"] == datetime(2026, 3, 5, 8, 15, tzinfo=ZoneInfo("Asia/Shanghai"))
    # without the grid columns the same row is refused, naming what a grid report needs
    r = intake(data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert [e["field"] for e in r.json()["rejected"][0]["errors"]] == ["grid_report"]


@pytest.mark.parametrize("data, content_type, field", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "image/png", "file"),
    ("姓名,电话\n王某某,13800138000\n".encode(), "text/csv", "channel"),
    (b"PK\x03\x04 broken", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "file"),
    (b"", "text/csv", "file"),
])
def test_a_file_that_is_no_ledger_is_a_400_problem_and_writes_nothing(intake, data, content_type, field):
    r = intake(data, content_type=content_type)
    assert r.status_code == 400 and r.headers["Content-Type"] == "application/problem+json"
    assert field in {e["field"] for e in r.json()["errors"]}
    assert intake.counts() == {"cases": 0, "petitioners": 0, "repeat_petitions": 0, "outbox": 0}
    assert intake.rows("SELECT count(*) AS n FROM ledger_imports")[0]["n"] == 0


def test_too_large_a_file_is_413(intake):
    r = intake(b"a" * (10 * 1024 * 1024 + 1))
    assert r.status_code == 413 and r.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("role, scope, query, status", [
    ("auditor", "QS", "", 403),           # not a role that registers
    ("clerk", "QS", "?township=BY", 403),  # another township's ledger
    ("clerk", "SH", "", 400),             # the county scope must name the township
    ("clerk", "QS", "?format=xls", 400),
])
def test_who_imports_for_which_township(intake, role, scope, query, status):
    r = intake(csv_of(LEDGER), query=query, scope=scope, role=role)
    assert r.status_code == status, r.text
    assert intake.counts()["cases"] == 0
