"""The agreement document (调解协议书): a real PDF in the CJK font, whose text read back holds the
parties, the facts, the terms and the case number in Chinese, with no line opening on a comma."""
import io
from datetime import date, datetime, timedelta, timezone

import pytest
from pypdf import PdfReader

from fengqiao import config
from fengqiao.config import REPO_ROOT
from fengqiao.county import load as load_county
from services.mediation import agreement, domain

COUNTY = load_county(REPO_ROOT / "deploy/county/sample-county.yaml")
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
FONT = config.settings("mediation").cjk_font
FACTS = ("李某某于二〇二六年一月扩建自家院墙，占用了与王某某两家共用的通道约一米，致王某某的农用车无法通行，"
         "双方多次协商未果，王某某遂申请村人民调解委员会调解，要求恢复通道原宽度，并由李某某赔偿误工损失。")


def concluded_file(kind="people", confirm=True):
    case = {"id": "0b6f9a52-8d1e-4a53-9a55-1f0e1f7c9a10", "number": "QS-2026-000001", "township": "QS"}
    file, _ = domain.open_file(case, "QS-2026-000001-M1", COUNTY, "QS01-MEDIATION", kind, "ordinary",
                               ["QS-JUDICIAL"] if kind == "joint" else [],
                               [{"name": "王某某", "role": "applicant"}, {"name": "李某某", "role": "respondent"}],
                               ["QS-XUCS"], "routing", T0)
    session, _ = domain.schedule_session(file, T0, "柳湾村调解室", [], [], "QS-XUCS", T0)
    domain.hold_session(file, session["id"], ["王某某", "李某某"], "笔录", "QS-XUCS", T0)
    terms = [{"party": "李某某", "obligation": "拆除占用通道部分的院墙，恢复通道原宽度", "due": date(2026, 3, 20)},
             {"party": "王某某", "obligation": "放弃要求赔偿误工损失的主张", "due": date(2026, 3, 5)}]
    domain.conclude(file, COUNTY, "agreement", date(2026, 3, 4), T0 + timedelta(days=2), "QS-XUCS", FACTS, terms,
                    judicial_confirmation=confirm)
    return file


def text_of(pdf):
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture(scope="module")
def rendered():
    pdf = agreement.render(concluded_file(), ["徐长松"], date(2026, 3, 4), FONT)
    return pdf, text_of(pdf)


def test_it_is_a_pdf_with_the_font_embedded(rendered):
    pdf, _ = rendered
    assert pdf.startswith(b"%PDF-")
    fonts = {str(f) for page in PdfReader(io.BytesIO(pdf)).pages
             for f in (page["/Resources"]["/Font"].get_object().values())}
    assert fonts, "no font in the document"
    assert b"/FontFile2" in pdf  # a TrueType font program embedded, not a reference to one


def test_the_text_read_back_holds_parties_facts_terms_and_numbers(rendered):
    _, text = rendered
    flat = text.replace("\n", "")
    for expected in ("人民调解协议书", "QS-2026-000001-M1", "QS-2026-000001", "申请人：王某某", "被申请人：李某某",
                     "柳湾村人民调解委员会", "李某某于2026年3月20日前拆除占用通道部分的院墙，恢复通道原宽度。", "一式三份",
                     "王某某于2026年3月5日前放弃要求赔偿误工损失的主张", "履行期限：2026年3月20日前履行完毕",
                     "向人民法院申请司法确认", "当事人（签名）：王某某", "调解员（签名）：徐长松", "2026年3月4日",
                     "恢复通道原宽度，并由李某某赔偿误工损失"):
        assert expected in flat, expected


@pytest.mark.parametrize("mark", "，；：？！")
def test_no_line_opens_on_a_punctuation_mark(mark):
    """A body line holds 35 characters after the indent: the 36th is a mark that must not open the
    second line (避头点号); the character before it goes down with it."""
    file = concluded_file()
    file["outcome"]["facts"] = "双方因宅基地边界及通道使用问题发生争执多年村委会多次组织协商均未能解决" + mark + "现申请调解"
    lines = [line.strip() for line in text_of(agreement.render(file, ["徐长松"], date(2026, 3, 4), FONT)).splitlines()]
    assert any(f"决{mark}现" in line for line in lines)
    assert not [line for line in lines if line and line[0] in "，。、；：？！）》”"]


def test_joint_mediation_has_its_own_title_and_no_confirmation_clause_unless_asked():
    text = text_of(agreement.render(concluded_file("joint", confirm=False), ["徐长松"], date(2026, 3, 4), FONT))
    assert "联合调解协议书" in text and "司法确认" not in text


def test_only_an_agreement_has_a_document_and_a_missing_font_is_said_plainly(tmp_path):
    file = concluded_file()
    file["outcome"]["outcome"] = "no_agreement"
    with pytest.raises(ValueError):
        agreement.render(file, ["徐长松"], date(2026, 3, 4), FONT)
    agreement.pdfmetrics._fonts.pop(agreement.FONT, None)  # as in a fresh process
    with pytest.raises(agreement.FontMissing, match="fonts-wqy-zenhei"):
        agreement.render(concluded_file(), ["徐长松"], date(2026, 3, 4), tmp_path / "none.ttc")
