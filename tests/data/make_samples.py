"""Regenerate the sample PDFs in this folder (their text was written for kbbuild; see README.md).

The PDFs are committed, so nobody needs to run this; it exists so that their origin is
reproducible. Requires reportlab, Pillow and pypdfium2 (dev extras) and, for the Chinese samples,
the WenQuanYi Micro Hei font: ``apt-get download fonts-wqy-microhei`` and unpack it, then set
``KBBUILD_CJK_FONT=/path/to/wqy-microhei.ttc``.

    python tests/data/make_samples.py
"""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

DATA = Path(__file__).resolve().parent
HERE = DATA.parent.parent / "samples"
CJK_FONT = os.environ.get("KBBUILD_CJK_FONT", "/tmp/wqy-microhei.ttc")


def styles(body_font: str, bold_font: str, leading_factor: float = 1.35) -> dict[str, ParagraphStyle]:
    return {
        "title": ParagraphStyle("title", fontName=bold_font, fontSize=22, leading=28, spaceAfter=10),
        "h1": ParagraphStyle("h1", fontName=bold_font, fontSize=15, leading=20, spaceBefore=10, spaceAfter=6),
        "h2": ParagraphStyle("h2", fontName=bold_font, fontSize=12.5, leading=17, spaceBefore=8, spaceAfter=4),
        "body": ParagraphStyle("body", fontName=body_font, fontSize=10.5, leading=10.5 * leading_factor, spaceAfter=6),
    }


def furniture(header: str, footer: str, font: str, total: int | None):
    """Running header and footer drawn on every page, as real reports have."""

    def draw(canvas, doc):
        canvas.saveState()
        canvas.setFont(font, 8.5)
        width, height = A4
        canvas.drawString(20 * mm, height - 12 * mm, header)
        canvas.line(20 * mm, height - 13.5 * mm, width - 20 * mm, height - 13.5 * mm)
        page = canvas.getPageNumber()
        label = footer.format(page=page, total=total)
        canvas.drawCentredString(width / 2, 10 * mm, label)
        canvas.restoreState()

    return draw


def build(path: Path, story, header: str, footer: str, font: str, total: int | None) -> None:
    doc = SimpleDocTemplate(
        str(path),
        pagesize=A4,
        leftMargin=22 * mm,
        rightMargin=22 * mm,
        topMargin=22 * mm,
        bottomMargin=20 * mm,
        title=path.stem,
        author="kbbuild samples",
    )
    draw = furniture(header, footer, font, total)
    doc.build(story, onFirstPage=draw, onLaterPages=draw)


# --------------------------------------------------------------------------------------------
def field_manual() -> None:
    s = styles("Helvetica", "Helvetica-Bold")
    P = lambda text, style="body": Paragraph(text, s[style])  # noqa: E731
    story = [
        P("Northwind Pumps Field Service Manual", "title"),
        P(
            "For the NW-300 and NW-500 series circulation pumps. Revision C, issued for field technicians "
            "and maintenance contractors."
        ),
        P("1 Introduction", "h1"),
        P(
            "This manual tells a field technician how to install, inspect, maintain and repair Northwind "
            "circulation pumps of the NW-300 and NW-500 series. It assumes basic training in pressurised "
            "water systems. Read the safety chapter before any work on a running installation."
        ),
        P("1.1 Scope", "h2"),
        P(
            "The procedures apply to pumps built from 2019 onwards with firmware 4.x controllers. Older "
            "units with the analogue controller board are covered by manual NWP-FSM-A, which is no longer "
            "distributed but can be requested from the service desk."
        ),
        P("1.2 Tools you need", "h2"),
        P(
            "Carry a torque wrench (5 to 60 Nm), the NW-CAL-7 calibration kit, a multimeter rated CAT III, "
            "spare O-rings of the 42 mm and 58 mm sizes, and the service laptop with the Northwind Link "
            "application installed."
        ),
        PageBreak(),
        P("2 Safety", "h1"),
        P(
            "Pumps run at up to 10 bar and 90 degrees Celsius. Scalding water and stored pressure are the "
            "two main hazards. Never open the volute while the gauge shows any pressure above zero."
        ),
        P("2.1 Lockout before service", "h2"),
        P(
            "Isolate the pump electrically at the local disconnect, attach your personal padlock and tag, "
            "then close both isolation valves. Open the bleed screw slowly and wait until no more water "
            "escapes. Only then may the motor cover be removed."
        ),
        P("2.2 Personal protective equipment", "h2"),
        P(
            "Wear heat-resistant gloves, safety glasses and safety shoes. Hearing protection is required "
            "when working next to a running NW-500, which reaches 84 dB(A) at one metre."
        ),
        PageBreak(),
        P("3 Maintenance schedule", "h1"),
        P(
            "Preventive maintenance keeps the warranty valid. Record every intervention in the Northwind "
            "Link application so that the service history travels with the pump."
        ),
        P("3.1 Pressure sensor calibration", "h2"),
        P(
            "The discharge pressure sensor drifts with temperature cycling. Technicians must recalibrate "
            "the pressure sensor every 90 days using the NW-CAL-7 kit. A sensor that reads more than "
            "0.25 bar away from the reference gauge after calibration must be replaced, not adjusted."
        ),
        P("3.2 Seal inspection", "h2"),
        P(
            "Inspect the mechanical seal every six months. Traces of limescale around the shaft are normal; "
            "drips of more than one drop per minute mean the seal is worn and must be changed."
        ),
        P("3.3 Bearing lubrication", "h2"),
        P(
            "NW-500 motors have greased-for-life bearings. NW-300 motors built before 2022 need 4 grams of "
            "NLGI-2 lithium grease per bearing every 8,000 operating hours."
        ),
        PageBreak(),
        P("4 Troubleshooting", "h1"),
        P(
            "Most faults are reported by the controller as an error code on the display and in the Link "
            "application. Always note the code before resetting the controller."
        ),
        P("4.1 Error codes", "h2"),
        P(
            "E11 means supply voltage out of range; check the mains before anything else. E17 means the "
            "impeller is jammed: switch off, lock out, and remove debris from the volute. E23 signals a dry "
            "run, usually a closed suction valve or an empty tank."
        ),
        P("4.2 When to call the factory", "h2"),
        P(
            "If the same error code returns three times within 24 hours after a reset, stop the pump and "
            "open a ticket with the Northwind service desk, quoting the serial number from the nameplate."
        ),
    ]
    build(
        HERE / "northwind_field_manual.pdf",
        story,
        "Northwind Pumps - Field Service Manual NW-300/500",
        "Page {page} of {total}",
        "Helvetica",
        4,
    )


# --------------------------------------------------------------------------------------------
def travel_policy_zh() -> None:
    pdfmetrics.registerFont(TTFont("WQY", CJK_FONT, subfontIndex=0))
    s = styles("WQY", "WQY", leading_factor=1.6)
    s["body"].wordWrap = "CJK"
    P = lambda text, style="body": Paragraph(text, s[style])  # noqa: E731
    story = [
        P("星河科技有限公司差旅费用管理办法", "title"),
        P("第一章 总则", "h1"),
        P("第一条 为规范公司员工因公出差的审批、交通、住宿和报销管理，合理控制差旅成本，制定本办法。"),
        P("第二条 本办法适用于公司总部及各分支机构的全体正式员工、试用期员工和派遣员工。"),
        P(
            "第三条 出差前须在办公系统中提交出差申请，注明事由、行程和预计费用，经部门负责人批准后方可出行。"
            "未经批准的出差，其费用不予报销。"
        ),
        P("第二章 交通标准", "h1"),
        P("一、城市间交通", "h2"),
        P(
            "员工出差优先乘坐高铁或动车，一般员工乘坐二等座，部门总监及以上人员可乘坐一等座。"
            "单程高铁时间超过六小时的，经批准可乘坐飞机经济舱。"
        ),
        PageBreak(),
        P("二、市内交通", "h2"),
        P(
            "出差期间市内交通以公共交通为主，每人每天市内交通补贴为八十元，凭票据实报实销的不再另发补贴。"
            "夜间二十二点以后可乘坐出租车，须在报销单中注明原因。"
        ),
        P("第三章 住宿标准", "h1"),
        P(
            "第四条 住宿费按出差城市分级执行。北京、上海、广州、深圳等一线城市，住宿费每人每晚不超过六百元；"
            "省会城市每人每晚不超过四百五十元；其他城市每人每晚不超过三百五十元。"
        ),
        P("第五条 两名同性别员工同行出差的，原则上合住一间标准间。超出标准的部分由员工个人承担。"),
        PageBreak(),
        P("第四章 报销流程", "h1"),
        P(
            "第六条 员工应在出差结束后三十天内提交报销申请，并附上发票、行程单和经批准的出差申请。"
            "逾期提交的，财务部有权不予受理。"
        ),
        P("第七条 报销款项由财务部审核后统一支付至员工工资卡，一般在审核通过后五个工作日内到账。"),
        P("第五章 附则", "h1"),
        P("第八条 本办法由财务部负责解释，自二〇二六年一月一日起施行。"),
    ]
    build(
        HERE / "xinghe_travel_policy_zh.pdf", story, "星河科技有限公司 内部管理制度 XH-FIN-012", "— {page} —", "WQY", 3
    )


# --------------------------------------------------------------------------------------------
def quarterly_report() -> None:
    s = styles("Helvetica", "Helvetica-Bold")
    P = lambda text, style="body": Paragraph(text, s[style])  # noqa: E731
    data = [
        ["Region", "Q3 2025 revenue", "Q3 2026 revenue", "Change"],
        ["North America", "21.4", "23.9", "+11.7%"],
        ["Europe", "17.8", "18.1", "+1.7%"],
        ["APAC", "11.3", "14.2", "+25.7%"],
        ["Latin America", "4.6", "4.4", "-4.3%"],
        ["Total", "55.1", "60.6", "+10.0%"],
    ]
    table = Table(data, colWidths=[45 * mm, 38 * mm, 38 * mm, 25 * mm])
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 10),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 10),
                ("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 10),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
            ]
        )
    )
    story = [
        P("Harbor Analytics Third Quarter 2026 Results", "title"),
        P(
            "Harbor Analytics reports revenue, margins and outlook for the quarter ended 30 September 2026. "
            "All amounts are in millions of US dollars unless stated otherwise."
        ),
        P("Revenue by region", "h1"),
        P(
            "Table 1 shows revenue by sales region. Growth was led by APAC, where two new data-centre "
            "customers went live in August."
        ),
        table,
        Spacer(1, 6 * mm),
        P("Table 1: Revenue by region, in millions of US dollars."),
        PageBreak(),
        P("Margins", "h1"),
        P(
            "Gross margin improved to 61.5 percent from 58.9 percent a year earlier, mainly because hosting "
            "costs per customer fell after the migration to the new storage tier. Operating expenses rose by "
            "6 percent, driven by hiring in the support organisation."
        ),
        P("Outlook", "h1"),
        P(
            "For the fourth quarter the company expects revenue between 62 and 64 million US dollars. The "
            "board approved a share buyback of up to 20 million US dollars over the next twelve months."
        ),
    ]
    build(
        HERE / "harbor_q3_2026_results.pdf",
        story,
        "Harbor Analytics Inc. | Q3 2026 Earnings Release",
        "{page}",
        "Helvetica",
        None,
    )


# --------------------------------------------------------------------------------------------
SCANNED_TEXT = [
    ("title", "NOTICE OF WATER SUPPLY INTERRUPTION"),
    ("body", "Building C of the Riverside campus will have no water supply"),
    ("body", "on Saturday 14 March 2026 from 08:00 to 16:00 while the main"),
    ("body", "valve is replaced. Please store drinking water in advance."),
    ("body", "停水通知：河畔园区C栋将于2026年3月14日8时至16时停水，"),
    ("body", "请提前做好储水准备。如有疑问请致电物业服务中心。"),
    ("body", "Facilities Office, extension 4410"),
]


def scanned_page_image() -> Image.Image:
    """A typed notice, rendered and degraded (blur, noise, slight skew) like an office scan."""
    width, height = 1240, 1754  # A4 at 150 DPI
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    title_font = ImageFont.truetype(CJK_FONT, 44)
    body_font = ImageFont.truetype(CJK_FONT, 32)
    y = 220
    for kind, line in SCANNED_TEXT:
        font = title_font if kind == "title" else body_font
        draw.text((130, y), line, font=font, fill=20)
        y += 90 if kind == "title" else 58
    rng = random.Random(7)
    pixels = image.load()
    for _ in range(6000):
        x, yy = rng.randrange(width), rng.randrange(height)
        pixels[x, yy] = rng.choice((90, 160, 200))
    image = image.rotate(0.6, resample=Image.BICUBIC, fillcolor=255)
    return image.filter(ImageFilter.GaussianBlur(0.6))


def scanned_notice() -> None:
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    path = HERE / "riverside_scanned_notice.pdf"
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setTitle("riverside_scanned_notice")
    width, height = A4
    c.setFont("Helvetica-Bold", 16)
    c.drawString(25 * mm, height - 30 * mm, "Riverside Campus Facilities: Scanned Notices")
    c.setFont("Helvetica", 10.5)
    lines = [
        "This file collects notices that were posted on paper and later scanned for the archive.",
        "The next page is an image-only scan: it has no text layer, so its words can only be",
        "found after optical character recognition. The typed original is kept for checking.",
    ]
    for i, line in enumerate(lines):
        c.drawString(25 * mm, height - 45 * mm - i * 15, line)
    c.showPage()
    buffer = io.BytesIO()
    scanned_page_image().save(buffer, format="PNG")
    buffer.seek(0)
    c.drawImage(ImageReader(buffer), 0, 0, width=width, height=height)
    c.showPage()
    c.save()
    (DATA / "groundtruth").mkdir(exist_ok=True)
    (DATA / "groundtruth" / "riverside_scanned_notice.p2.txt").write_text(
        "\n".join(line for _, line in SCANNED_TEXT) + "\n", encoding="utf-8"
    )


# --------------------------------------------------------------------------------------------
def two_column_newsletter() -> None:
    """A full-width title over two columns, with PDF bookmarks (outline) for its sections."""
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate
    from reportlab.platypus.flowables import Flowable

    class Bookmark(Flowable):
        def __init__(self, key: str, title: str, level: int) -> None:
            super().__init__()
            self.key, self.title, self.level = key, title, level

        def wrap(self, *args):
            return (0, 0)

        def draw(self):
            self.canv.bookmarkHorizontal(self.key, 0, 0)
            self.canv.addOutlineEntry(self.title, self.key, level=self.level)

    s = styles("Helvetica", "Helvetica-Bold")
    width, height = A4
    margin, gutter = 20 * mm, 8 * mm
    column = (width - 2 * margin - gutter) / 2
    title_frame = Frame(margin, height - 45 * mm, width - 2 * margin, 25 * mm, id="title")
    left = Frame(margin, 20 * mm, column, height - 70 * mm, id="left")
    right = Frame(margin + column + gutter, 20 * mm, column, height - 70 * mm, id="right")
    doc = BaseDocTemplate(str(HERE / "lakeside_newsletter.pdf"), pagesize=A4, title="lakeside_newsletter")
    doc.addPageTemplates([PageTemplate(id="cols", frames=[title_frame, left, right])])
    P = lambda text, style="body": Paragraph(text, s[style])  # noqa: E731
    from reportlab.platypus import FrameBreak

    story = [
        Bookmark("top", "Lakeside Lab Newsletter", 0),
        P("Lakeside Lab Newsletter, Spring Issue", "title"),
        FrameBreak(),
        Bookmark("s1", "New microscope", 1),
        P("New microscope", "h2"),
        P(
            "ALPHA-ONE. The imaging group installed a cryo-electron microscope in room B12. Training "
            "sessions run every Tuesday morning; book a slot through the lab portal."
        ),
        P(
            "ALPHA-TWO. Samples must be prepared on the approved grids only. The facility manager "
            "checks every grid box before a session starts."
        ),
        P(
            "ALPHA-THREE. Data from each session is copied to the archive server within one hour, "
            "and raw frames are deleted from the instrument after seven days."
        ),
        FrameBreak(),
        Bookmark("s2", "Safety drill", 1),
        P("Safety drill", "h2"),
        P(
            "BETA-ONE. The annual evacuation drill takes place on 22 April at 10:30. Leave through the "
            "nearest green exit and gather at the car park."
        ),
        P(
            "BETA-TWO. Fire wardens wear yellow vests and count their floor. Do not return to the "
            "building until the all-clear is given."
        ),
        P("BETA-THREE. Report any blocked corridor to the safety office on extension 2200."),
    ]
    doc.build(story)


if __name__ == "__main__":
    import sys

    builders = {
        f.__name__: f for f in (field_manual, travel_policy_zh, quarterly_report, scanned_notice, two_column_newsletter)
    }
    for name in sys.argv[1:] or builders:  # PDFs embed a timestamp: rebuild only what you changed
        builders[name]()
    print("samples written to", HERE)
