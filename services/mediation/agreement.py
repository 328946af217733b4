"""The agreement document (调解协议书) of a concluded file, as a PDF in a CJK font from Debian's
packages (fonts-wqy-zenhei by default), laid out with ReportLab. Pure: the file in, bytes out."""
import io
from datetime import date
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus import paragraph as _paragraph
from xml.sax.saxutils import escape

from fengqiao.calendar import chinese_date
from services.mediation.domain import KINDS, PARTY_ROLES

FONT = "FengqiaoCJK"
# ReportLab keeps a line from starting with 、。）and the like, but its list lacks the full-width
# comma, semicolon, colon, question and exclamation marks and closing quotes, which Chinese
# typesetting (GB/T 15834, 避头点号) keeps off a line's start too.
_paragraph.ALL_CANNOT_START += "，；：？！”’》」』"
TITLES = {"people": "人民调解协议书", "joint": "联合调解协议书", "administrative": "行政调解协议书",
          "industry": "调解协议书"}


class FontMissing(RuntimeError):
    """The CJK font is not installed: the document cannot be made (HTTP 503)."""


def _register_font(path):
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    if not Path(path).is_file():
        raise FontMissing(f"the CJK font {path} is not installed (Debian: fonts-wqy-zenhei; setting FENGQIAO_CJK_FONT)")
    pdfmetrics.registerFont(TTFont(FONT, str(path), subfontIndex=0))


def _styles():
    body = ParagraphStyle("body", fontName=FONT, fontSize=12, leading=21, wordWrap="CJK", firstLineIndent=24)
    return {
        "title": ParagraphStyle("title", parent=body, fontSize=20, leading=30, alignment=1, firstLineIndent=0),
        "number": ParagraphStyle("number", parent=body, alignment=2, firstLineIndent=0, fontSize=11),
        "heading": ParagraphStyle("heading", parent=body, firstLineIndent=0, spaceBefore=8),
        "body": body,
        "plain": ParagraphStyle("plain", parent=body, firstLineIndent=0),
    }


def _count(n):
    """一 to 十 for the number of copies; digits beyond."""
    return "一二三四五六七八九十"[n - 1] if 1 <= n <= 10 else str(n)


def render(file, mediator_names, signed_on, font_path):
    """The agreement of a file concluded with an agreement, as PDF bytes, dated `signed_on` (the
    day it was concluded, in county time)."""
    outcome = file["outcome"] or {}
    if outcome.get("outcome") != "agreement":
        raise ValueError("only a file concluded with an agreement has an agreement document")
    _register_font(font_path)
    s = _styles()

    def para(text, style="body"):
        return Paragraph(escape(text), s[style])

    story = [para(TITLES[file["kind"]], "title"),
             para(f"编号：{file['number']}（案件 {file['case_number']}）", "number"), Spacer(1, 4 * mm),
             para("当事人", "heading")]
    story += [para(f"{PARTY_ROLES[p['role']]}：{p['name']}", "plain") for p in file["parties"]]
    story += [para("纠纷主要事实、争议事项", "heading"), para(outcome["facts"]),
              para(f"经{file['body_name']}{KINDS[file['kind']]}，当事人自愿达成如下协议：", "heading")]
    story += [para(f"{i}．{t['party']}于{chinese_date(date.fromisoformat(t['due']))}前{t['obligation']}。")
              for i, t in enumerate(outcome["terms"], 1)]
    story.append(para(f"履行期限：{chinese_date(date.fromisoformat(outcome['performance_due']))}前履行完毕。"))
    if outcome["judicial_confirmation"]:
        story.append(para("双方当事人同意自本协议生效之日起三十日内共同向人民法院申请司法确认。"))
    story += [para(f"本协议自各方当事人签名、调解员签名并加盖{file['body_name']}印章之日起生效。"
                   f"本协议一式{_count(len(file['parties']) + 1)}份，当事人各执一份，调解组织留存一份。"),
              Spacer(1, 8 * mm), _signatures(file, mediator_names, s, signed_on)]
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, title=TITLES[file["kind"]], author=file["body_name"],
                      leftMargin=25 * mm, rightMargin=25 * mm, topMargin=25 * mm, bottomMargin=25 * mm).build(story)
    return buffer.getvalue()


def _signatures(file, mediator_names, s, signed):
    """当事人（签名）、调解员（签名）、调解组织（盖章）和日期."""
    rows = [[Paragraph(escape(f"当事人（签名）：{p['name']}"), s["plain"]), ""] for p in file["parties"]]
    rows += [[Paragraph(escape(f"调解员（签名）：{m}"), s["plain"]), ""] for m in mediator_names]
    rows.append([Paragraph(escape(f"{file['body_name']}（盖章）"), s["plain"]),
                 Paragraph(escape(chinese_date(signed)), s["plain"])])
    table = Table(rows, colWidths=[110 * mm, 50 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 10)]))
    return table
