"""Regenerate the non-PDF samples (docx, pptx, eml, md) in ../../samples. Their text was written for
kbbuild; names, companies and figures are invented. The files are committed, so nobody needs to
run this; it exists so that their origin is reproducible. Needs python-docx and python-pptx, which
come with kbbuild's unstructured dependency.

    python tests/data/make_office_samples.py
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent.parent / "samples"


def onboarding_docx() -> None:
    """Word styles for title and two heading levels, a list with its lead-in, a table, and a page
    header and footer that must not be indexed."""
    import docx

    document = docx.Document()
    document.core_properties.author = "Northwind People Team"
    document.add_heading("Northwind Onboarding Guide", 0)
    document.add_heading("1 Your first week", 1)
    document.add_paragraph(
        "Every new employee receives a laptop, a badge and a safety briefing on the first day. "
        "Your manager books the briefing; it takes two hours and is held in the Riverside training room."
    )
    document.add_paragraph("Bring the following on day one:")
    for item in ("your passport or national ID card", "your bank details for payroll", "a signed copy of the contract"):
        document.add_paragraph(item, style="List Bullet")
    document.add_heading("1.1 Accounts and passwords", 2)
    document.add_paragraph(
        "IT creates your accounts before you arrive. Passwords must have at least 14 characters and are "
        "changed only when there is reason to think they leaked. Multi-factor sign-in uses the Northwind "
        "Authenticator app."
    )
    document.add_heading("2 Who provides what", 1)
    document.add_paragraph("Equipment and the team responsible for it:")
    table = document.add_table(rows=5, cols=3)
    table.style = "Table Grid"
    rows = [
        ("Item", "Provided by", "Lead time"),
        ("Laptop", "IT service desk", "3 working days"),
        ("Badge", "Security office", "1 working day"),
        ("Safety boots", "Facilities", "5 working days"),
        ("Parking permit", "Facilities", "10 working days"),
    ]
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    section = document.sections[0]
    section.header.paragraphs[0].text = "Northwind Pumps · Internal"
    section.footer.paragraphs[0].text = "People Team · Version 4 · November 2026"
    document.save(SAMPLES / "northwind_onboarding.docx")


def board_update_pptx() -> None:
    """One title per slide (slide number = page in citations) and speaker notes that carry facts."""
    import pptx

    deck = pptx.Presentation()
    slides = [
        ("Harbor Freight Lines: Q4 2026 plan", "Board update, 2 December 2026", None),
        (
            "Fleet",
            "Replace 18 diesel tractors with electric units\nCharging depot at Pier 9 opens in February",
            "The 18 electric tractors cost 6.1 million dollars after the port's green freight grant.",
        ),
        (
            "Hiring",
            "40 drivers and 6 mechanics before the holiday peak\nSigning bonus: 2,500 dollars",
            "Driver turnover fell from 31% to 22% this year; the bonus is paid after 90 days.",
        ),
    ]
    for title, body, notes in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    deck.save(SAMPLES / "harbor_board_update.pptx")


def dock_closure_eml() -> None:
    """A plain mail with a signature block and an attachment that kbbuild lists but does not index."""
    message = EmailMessage()
    message["From"] = "Harbor Operations <ops@harbor-freight.example>"
    message["To"] = "all-drivers@harbor-freight.example"
    message["Subject"] = "Dock 4 closed for repairs until 11 December"
    message["Date"] = "Mon, 30 Nov 2026 07:45:00 +0000"
    message.set_content(
        "Dock 4 is closed from Tuesday 1 December until Friday 11 December while the leveller is replaced.\n\n"
        "Use dock 5 for all refrigerated loads and dock 7 for dry goods. Bookings already made for dock 4 "
        "move to dock 5 automatically; the yard office confirms the new slot by text message.\n\n"
        "-- \nHarbor Operations\nYard office: extension 2210\n"
    )
    message.add_attachment(
        b"Dock,Status\n4,closed\n5,open\n7,open\n", maintype="text", subtype="csv", filename="dock_status.csv"
    )
    (SAMPLES / "harbor_dock_closure.eml").write_bytes(bytes(message))


XINGHE_FAQ = """# 星河科技 员工常见问题

## 一、考勤与休假

年假天数按工龄计算：工龄满一年不满十年的员工每年享有五天年假，满十年不满二十年的享有十天。

病假需要在系统中提交申请，并在三个工作日内补交医院证明。

## 二、报销

### 2.1 交通费

市内交通费实报实销，打车需要注明事由。夜间加班到二十二点以后可以打车回家，费用由部门承担。

### 2.2 餐费

出差期间每天的餐费补助为一百元，无需提供发票。

| 城市类别 | 餐费补助（元/天） |
|---|---|
| 一线城市 | 120 |
| 其他城市 | 100 |
"""


def xinghe_faq_md() -> None:
    """Chinese Markdown: heading levels from # marks, Chinese sentences, a table."""
    (SAMPLES / "xinghe_faq_zh.md").write_text(XINGHE_FAQ, encoding="utf-8")


if __name__ == "__main__":
    for build in (onboarding_docx, board_update_pptx, dock_closure_eml, xinghe_faq_md):
        build()
    print("samples written to", SAMPLES)
