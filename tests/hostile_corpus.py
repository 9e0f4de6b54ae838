"""A folder of hostile and pathological input files, generated (never checked in), with what kbbuild
must do with each: ``python tests/hostile_corpus.py OUT`` writes it; the tests import ``build``.

Every kind is made the way an attacker or an unlucky user would make it: real PDF syntax with the
fault in one place, real zip archives, real encodings. Sizes that matter (the 200 MB line, the zip
bomb's inflated size) are the real sizes, written in streaming fashion so generation stays fast.
"""

from __future__ import annotations

import base64
import io
import os
import stat
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024


@dataclass(frozen=True)
class Kind:
    """One hostile kind: the file(s) it writes, and the outcome kbbuild owes it.

    ``status`` is the file's status in the ingest report (``ingested``, ``failed``, ``skipped``), or
    ``unsupported`` for a file no parser claims; ``says`` is a part of its message (error, warning
    or skip reason) that names the actual problem.
    """

    name: str
    relpath: str
    status: str
    says: str
    make: Callable[[Path], None]
    later: str = ""  # what it should become, where today's outcome is a clear refusal rather than the goal


# --- small PDF writer: objects in order, a correct xref, so each fault is exactly the one intended ---


def _pdf(objects: list[bytes], root: int = 1, trailer_extra: bytes = b"") -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    trailer = b"trailer\n<< /Size %d /Root %d 0 R %s>>\n" % (len(objects) + 1, root, trailer_extra)
    out.write(trailer + b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def _stream(data: bytes, extra: bytes = b"", compress: bool = False) -> bytes:
    if compress:
        data = zlib.compress(data, 9)
        extra += b" /Filter /FlateDecode"
    return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def _text_page_pdf(text: str, size: tuple[float, float] = (612, 792), extra_catalog: bytes = b"") -> bytes:
    # Mid-page: a lone line in the top band of a one-page document is judged a running header.
    content = b"BT /F1 12 Tf 72 %d Td (%s) Tj ET" % (int(size[1] * 0.6), text.encode("latin-1"))
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R %s>>" % extra_catalog,
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>" % size,
            _stream(content),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


def _good_pdf(path: Path, title: str = "Harbour maintenance schedule") -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setFont("Helvetica-Bold", 16)
    pdf.drawString(72, 770, title)
    pdf.setFont("Helvetica", 11)
    for line in range(20):
        pdf.drawString(72, 740 - 16 * line, f"Line {line}: the crane on berth {line % 4} is inspected every quarter.")
    pdf.save()


# --- the kinds ---


def zero_byte(path: Path) -> None:
    path.write_bytes(b"")


def truncated_pdf(path: Path) -> None:
    data = _text_page_pdf("This PDF was cut off in the middle of a transfer and never finished arriving.")
    path.write_bytes(data[: len(data) // 2])


def broken_xref(path: Path) -> None:
    data = _text_page_pdf("A PDF whose cross-reference table points at the wrong offsets but is otherwise fine.")
    start = data.index(b"xref\n")
    body = data[start:].replace(b" 00000 n", b" 00000 n").split(b"\n")
    broken = [line if not line.endswith(b" n ") else b"%010d 00000 n " % 999999 for line in body]
    path.write_bytes(data[:start] + b"\n".join(broken))


def _reportlab_encrypted(path: Path, user: str) -> None:
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    encrypt = pdfencrypt.StandardEncryption(user, "owner-secret", canPrint=1, canCopy=0 if not user else 1)
    pdf = canvas.Canvas(str(path), encrypt=encrypt)
    pdf.drawString(72, 770, "Quarterly payroll figures for the harbour authority, confidential.")
    pdf.save()


def encrypted_user(path: Path) -> None:
    _reportlab_encrypted(path, "open-sesame")


def encrypted_owner_only(path: Path) -> None:
    _reportlab_encrypted(path, "")


def empty_pages(path: Path, count: int = 3000) -> None:
    kids = b" ".join(b"%d 0 R" % (3 + i) for i in range(count))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count)]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>" for _ in range(count)]
    path.write_bytes(_pdf(objects))


def flate_bomb(path: Path, inflated_mb: int = 300) -> None:
    """A content stream of a few hundred KB that inflates to ``inflated_mb`` of whitespace."""
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(b"BT /F1 12 Tf 72 720 Td (Flate bomb) Tj ET\n")]
    block = b" " * MB
    parts += [compressor.compress(block) for _ in range(inflated_mb)]
    parts.append(compressor.flush())
    data = b"".join(parts)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    path.write_bytes(_pdf(objects))


def huge_image(path: Path, side: int = 10000) -> None:
    """A 100-megapixel grey image (a scan at absurd resolution) on an otherwise empty page."""
    compressor = zlib.compressobj(9)
    row = b"\x80" * side
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    image = (
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 "
        b"/Length %d /Filter /FlateDecode >>\nstream\n" % (side, side, len(data)) + data + b"\nendstream"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /XObject << /Im1 5 0 R >> >> >>",
        _stream(b"q 540 0 0 720 36 36 cm /Im1 Do Q"),
        image,
    ]
    path.write_bytes(_pdf(objects))


def deep_nesting(path: Path, depth: int = 200_000) -> None:
    nested = b"[" * depth + b"]" * depth
    data = _text_page_pdf("Deeply nested arrays live in the catalog of this otherwise normal PDF.")
    data = data.replace(b"<< /Type /Catalog", b"<< /Deep " + nested + b" /Type /Catalog", 1)
    path.write_bytes(_rewrite_xref(data))


def _rewrite_xref(data: bytes) -> bytes:
    """Recompute xref offsets after an object was edited in place."""
    head = data[: data.index(b"xref\n")]
    offsets, position = [], 0
    while (position := head.find(b" 0 obj\n", position)) != -1:
        start = head.rfind(b"\n", 0, position) + 1
        offsets.append(start)
        position += 1
    trailer = data[data.index(b"trailer") :]
    trailer = trailer[: trailer.index(b"startxref")]
    out = head + b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return out + trailer + b"startxref\n%d\n%%%%EOF\n" % len(head)


def javascript_launch(path: Path) -> None:
    actions = b"/OpenAction << /S /JavaScript /JS (app.alert('pwned');) >> "
    actions += b"/AA << /O << /S /Launch /F (calc.exe) >> >> "
    text = "Invoice 2291 for berth rental, payable within thirty days."
    path.write_bytes(_text_page_pdf(text, extra_catalog=actions))


def page_size_zero(path: Path) -> None:
    path.write_bytes(_text_page_pdf("A page with no area at all.", size=(0, 0)))


def page_size_huge(path: Path) -> None:
    path.write_bytes(_text_page_pdf("A poster page of two hundred inches square.", size=(14400, 14400)))


def unmapped_glyphs(path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from pdfmaker import unmapped_glyphs_pdf

    lines = ["The quarterly dredging report covers the outer channel.", "Depths were measured at forty points."]
    unmapped_glyphs_pdf(path, [[(True, 72, 700, lines)]])


def _docx_bytes(document_xml: bytes, compress_level: int = 6) -> bytes:
    content_types = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        b'<Default Extension="xml" ContentType="application/xml"/>'
        b'<Override PartName="/word/document.xml" '
        b'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    rels = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        b'officeDocument" Target="word/document.xml"/></Relationships>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=compress_level) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("_rels/.rels", rels)
        archive.writestr("word/document.xml", document_xml)
    return out.getvalue()


_W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def docx_zip_bomb(path: Path, inflated_mb: int = 1100) -> None:
    """A docx whose document.xml inflates to over a GB (streamed into the archive, never held)."""
    good = _docx_bytes(b"<w:document %s><w:body><w:p><w:r><w:t>bomb</w:t></w:r></w:p></w:body></w:document>" % _W)
    with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("[Content_Types].xml", "_rels/.rels"):
            archive.writestr(name, source.read(name))
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(b"<w:document %s><w:body><w:p><w:r><w:t>" % _W)
            block = b"A" * MB
            for _ in range(inflated_mb):
                member.write(block)
            member.write(b"</w:t></w:r></w:p></w:body></w:document>")


def billion_laughs_docx(path: Path) -> None:
    entities = b'<!ENTITY lol "lol">'
    for level in range(1, 10):
        previous = b"&lol%d;" % (level - 1) if level > 1 else b"&lol;"
        entities += b'<!ENTITY lol%d "%s">' % (level, previous * 10)
    xml = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [' + entities + b"]>"
        b"<w:document %s><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>" % _W
    )
    path.write_bytes(_docx_bytes(xml))


def pdf_that_is_docx(path: Path) -> None:
    paragraph = b"<w:p><w:r><w:t>Minutes of the pilot board meeting in March.</w:t></w:r></w:p>"
    path.write_bytes(_docx_bytes(b"<w:document %s><w:body>%s</w:body></w:document>" % (_W, paragraph)))


def pdf_that_is_html(path: Path) -> None:
    path.write_text("<!DOCTYPE html><html><body><h1>Tariffs</h1><p>Berth rental is 40 per metre.</p></body></html>")


def corrupt_pptx(path: Path) -> None:
    path.write_bytes(b"PK\x03\x04" + os.urandom(4096))


def corrupt_xlsx(path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook><sheets><sheet name='a' r:id='rId9'/></sheets>")
    path.write_bytes(buffer.getvalue()[:-30])


_CJK = "港務局第三季度報告：疏浚工程按計劃完成，航道水深維持在十五米。"
_JA = "港湾局の第三四半期報告：浚渫工事は計画どおり完了しました。"


def gbk_text(path: Path) -> None:
    path.write_bytes(("港务局第三季度报告：疏浚工程按计划完成，航道水深维持在十五米。\n" * 3).encode("gbk"))


def shift_jis_text(path: Path) -> None:
    path.write_bytes((_JA + "\n").encode("shift_jis") * 3)


def utf16_text(path: Path) -> None:
    path.write_bytes(("UTF-16 notes: the harbour pilots rotate weekly.\n" * 3).encode("utf-16"))


def one_line_text(path: Path, size_mb: int = 200) -> None:
    words = b"harbour crane berth pilot tariff dredge manifest ledger "
    block = words * (MB // len(words))
    with path.open("wb") as out:
        for _ in range(size_mb):
            out.write(block)


def binary_markdown(path: Path) -> None:
    path.write_bytes(os.urandom(256 * 1024))


def nested_markdown(path: Path, depth: int = 2000) -> None:
    lines = [">" * level + f" quoted reply level {level}" for level in range(1, depth)]
    lines += ["  " * level + f"- item {level}" for level in range(depth)]
    path.write_text("\n".join(lines))


def nested_divs(path: Path, depth: int = 100_000) -> None:
    path.write_text("<html><body>" + "<div>" * depth + "deep text" + "</div>" * depth + "</body></html>")


def ragged_table_html(path: Path) -> None:
    first = "<tr>" + "<td>x</td>" * 5000 + "</tr>"
    rest = "<tr><td>y</td></tr>" * 20000
    path.write_text(f"<html><body><table>{first}{rest}</table></body></html>")


def huge_attachment_eml(path: Path, size_mb: int = 60) -> None:
    payload = base64.encodebytes(os.urandom(size_mb * MB * 3 // 4))
    path.write_bytes(
        b"From: ops@harbour.example\r\nTo: board@harbour.example\r\nSubject: Dredging survey data\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="XYZ"\r\n\r\n'
        b"--XYZ\r\nContent-Type: text/plain\r\n\r\nThe survey data is attached.\r\n"
        b"--XYZ\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; "
        b'filename="survey.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + payload + b"\r\n--XYZ--\r\n"
    )


def big_sheet(path: Path, rows: int = 100_000) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("ledger")
    sheet.append(["date", "berth", "vessel", "tonnes"])
    for row in range(rows):
        sheet.append([f"2026-{row % 12 + 1:02d}-{row % 28 + 1:02d}", f"B{row % 40}", f"Vessel {row}", row * 7 % 9000])
    book.save(path)


def good_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def symlink_loop(path: Path) -> None:
    other = path.with_name(path.name + ".other")
    os.symlink(other.name, path)
    os.symlink(path.name, other)


def symlink_outside(path: Path) -> None:
    os.symlink("/etc/hostname", path)


def fifo(path: Path) -> None:
    os.mkfifo(path)


def unreadable(path: Path) -> None:
    path.write_text("secret")
    path.chmod(0)


def _named(text: str) -> Callable[[Path], None]:
    return lambda path: good_text(path, text)


GOOD_NOTE = "Berth 4 reopens on Monday after the crane inspection. Pilots should plan arrivals accordingly."


def kinds(big: bool = True) -> list[Kind]:
    """Every kind. ``big=False`` shrinks the few that are slow to write (for quick local runs)."""
    scale = 1 if big else 10
    root = os.geteuid() == 0  # permission bits do not stop root: the file is simply read
    unreadable_outcome = ("ingested", "") if root else ("failed", "ermission")

    def bomb(path: Path) -> None:
        docx_zip_bomb(path, 1100 // scale)

    return [
        Kind("zero-byte PDF", "zero_byte.pdf", "failed", "empty file", zero_byte),
        Kind("truncated PDF", "truncated.pdf", "failed", "corrupt PDF", truncated_pdf),
        Kind("broken xref", "broken_xref.pdf", "ingested", "pdfium repaired", broken_xref),
        Kind("encrypted, user password", "encrypted_user.pdf", "failed", "password", encrypted_user),
        Kind("encrypted, owner password only", "encrypted_owner.pdf", "ingested", "", encrypted_owner_only),
        Kind("3,000 empty pages", "empty_pages.pdf", "ingested", "no text was extracted", empty_pages),
        Kind("FlateDecode bomb", "flate_bomb.pdf", "ingested", "", lambda p: flate_bomb(p, 300 // scale)),
        Kind("100-megapixel image", "huge_image.pdf", "ingested", "no text was extracted", huge_image),
        Kind("deep object nesting", "deep_nesting.pdf", "ingested", "", deep_nesting),
        Kind("JavaScript and /Launch actions", "javascript.pdf", "ingested", "", javascript_launch),
        Kind("page size 0", "page_size_zero.pdf", "ingested", "", page_size_zero),
        Kind("page size 14,400 pt", "page_size_huge.pdf", "ingested", "page_megapixels", page_size_huge),
        Kind("unmapped glyphs", "unmapped_glyphs.pdf", "ingested", "read by OCR", unmapped_glyphs),
        Kind("docx zip bomb", "zip_bomb.docx", "failed", "[limits] archive_", bomb),
        Kind("XML billion laughs", "billion_laughs.docx", "failed", "cannot read this docx", billion_laughs_docx),
        Kind(".pdf that is a docx", "really_docx.pdf", "failed", "looks like a zip", pdf_that_is_docx),
        Kind(".pdf that is HTML", "really_html.pdf", "failed", "looks like HTML", pdf_that_is_html),
        Kind("corrupt pptx", "corrupt.pptx", "failed", "cannot read this pptx", corrupt_pptx),
        Kind("corrupt xlsx", "corrupt.xlsx", "failed", "cannot read this xlsx", corrupt_xlsx),
        Kind("GBK text", "gbk.txt", "ingested", "", gbk_text),
        Kind("Shift-JIS text", "shift_jis.txt", "ingested", "", shift_jis_text),
        Kind("UTF-16 text", "utf16.txt", "ingested", "", utf16_text),
        Kind("200 MB one-line text", "one_line.txt", "ingested", "", lambda p: one_line_text(p, 200 // scale)),
        Kind("binary garbage named .md", "garbage.md", "failed", "not text", binary_markdown),
        Kind("nested Markdown", "nested.md", "failed", "_memory_mb = ", nested_markdown),  # its worker, or the run
        Kind("100k nested divs", "nested_divs.html", "failed", "no text found", nested_divs),
        Kind("ragged HTML table", "ragged_table.html", "ingested", "", ragged_table_html),
        Kind(".eml with a huge attachment", "attachment.eml", "ingested", "attachment", huge_attachment_eml),
        Kind("sheet with 100k rows", "big_sheet.xlsx", "ingested", "", lambda p: big_sheet(p, 100_000 // scale)),
        Kind("name with spaces", "name with spaces.txt", "ingested", "", _named(GOOD_NOTE + " (spaces)")),
        Kind("name with a newline", "new\nline.txt", "ingested", "", _named(GOOD_NOTE + " (newline)")),
        Kind("non-ASCII name", "港務局報告.txt", "ingested", "", _named(_CJK)),
        Kind("leading dash", "-rf.txt", "ingested", "", _named(GOOD_NOTE + " (dash)")),
        Kind("250-byte name", "n" * 246 + ".txt", "ingested", "", _named(GOOD_NOTE + " (long name)")),
        Kind("symlink loop", "loop.txt", "failed", "loop", symlink_loop),
        Kind("symlink out of the input", "outside.txt", "skipped", "outside the input folder", symlink_outside),
        Kind("FIFO", "pipe.txt", "skipped", "not a regular file", fifo),
        Kind("unreadable file", "unreadable.txt", *unreadable_outcome, unreadable),
    ]


def build(folder: Path, big: bool = True) -> list[Kind]:
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for kind in kinds(big):
        kind.make(folder / kind.relpath)
        made.append(kind)
    return made


def add_good_files(folder: Path, count: int = 3) -> list[str]:
    names = []
    for number in range(count):
        _good_pdf(folder / f"good_{number}.pdf", title=f"Harbour maintenance schedule {number}")
        names.append(f"good_{number}.pdf")
    return names


if __name__ == "__main__":
    target = Path(sys.argv[1])
    for kind in build(target, big="--small" not in sys.argv):
        mode = (target / kind.relpath).lstat().st_mode
        size = (target / kind.relpath).lstat().st_size if stat.S_ISREG(mode) else 0
        print(f"{kind.name:32} {kind.relpath[:40]!r:44} {size / MB:8.1f} MB")
    add_good_files(target)
