"""pdfplumber's object dictionaries, built straight from a layout that pdfium's characters made.

pdfplumber's table finder works on ``page.objects``: one dict per character, line, rectangle and
text container. pdfplumber builds them in ``Page.parse_objects``, which passes every attribute of
every object through ``resolve_all`` (a recursive walk that looks for references into the PDF's
object tree). On a statement page that is a third of the time the table finder takes. The objects
kbbuild hands over come from pdfium and hold only plain numbers, strings and tuples, so the walk
has nothing to resolve: this module builds the same dicts (same keys, same values, same order;
``tests/test_table_cells.py`` compares them with pdfplumber's own) without it.

Only for layouts made by ``pdfium_chars``: a layout from pdfminer's interpreter may hold references
and goes through pdfplumber's own ``parse_objects``.
"""

from __future__ import annotations

from typing import Any

from pdfminer.layout import LTAnno, LTChar, LTContainer, LTCurve, LTPage, LTTextContainer
from pdfplumber.page import ALL_ATTRS, Page

from kbbuild.parse.pdf.pdfium_chars import LTChar as PdfiumChar


def _kind(cls: type, names: dict[type, str]) -> str:
    kind = names.get(cls)
    if kind is None:
        name = cls.__name__
        kind = names[cls] = (name[2:] if name.startswith("LT") else name).lower()
    return kind


def plumber_objects(page: Page, layout: LTPage) -> dict[str, list[dict[str, Any]]]:
    """What ``page.parse_objects()`` returns for ``layout`` (a pdfium-made layout, see above)."""
    height, page_number, doctop = page.height, page.page_number, page.initial_doctop
    mb_x0, mb_top = page.mediabox[:2]
    with_containers = page.pdf.laparams is not None
    norm = page.pdf.unicode_norm
    names: dict[type, str] = {}
    objects: dict[str, list[dict[str, Any]]] = {}

    def convert(obj) -> dict[str, Any]:
        attr = {k: (list(v) if isinstance(v, list) else v) for k, v in obj.__dict__.items() if k in ALL_ATTRS}
        attr["object_type"] = _kind(type(obj), names)
        attr["page_number"] = page_number
        if isinstance(obj, (LTChar, LTTextContainer)):
            text = obj.get_text()
            if norm is not None:
                from pdfplumber.utils import normalize_unicode

                text = normalize_unicode(norm, text)
            attr["text"] = text
        if isinstance(obj, LTChar):
            gs = obj.graphicstate
            attr["stroking_color"] = gs.scolor if isinstance(gs.scolor, tuple) else (gs.scolor,)
            attr["non_stroking_color"] = gs.ncolor if isinstance(gs.ncolor, tuple) else (gs.ncolor,)
        elif isinstance(obj, LTCurve):
            attr["pts"] = [page.point2coord(pt) for pt in attr["pts"]]
            attr["path"] = [(cmd, *map(page.point2coord, pts)) for cmd, *pts in obj.original_path]
            attr["dash"] = obj.dashing_style
        if "y0" in attr:
            attr["top"] = (height - attr["y1"]) + mb_top
            attr["bottom"] = (height - attr["y0"]) + mb_top
            attr["doctop"] = doctop + attr["top"]
        if "x0" in attr and mb_x0 != 0:
            attr["x0"] = attr["x0"] + mb_x0
            attr["x1"] = attr["x1"] + mb_x0
        return attr

    def pdfium_char(obj: PdfiumChar) -> dict[str, Any]:
        """``convert`` unrolled for the one class that makes up most of a page (see ``PdfiumChar``
        for its attributes: no colours, no references)."""
        top = (height - obj.y1) + mb_top
        return {
            "x0": obj.x0 + mb_x0,
            "y0": obj.y0,
            "x1": obj.x1 + mb_x0,
            "y1": obj.y1,
            "width": obj.width,
            "height": obj.height,
            "fontname": obj.fontname,
            "size": obj.size,
            "upright": obj.upright,
            "matrix": obj.matrix,
            "adv": obj.adv,
            "object_type": "char",
            "page_number": page_number,
            "text": obj._text,
            "stroking_color": (None,),
            "non_stroking_color": (None,),
            "top": top,
            "bottom": (height - obj.y0) + mb_top,
            "doctop": doctop + top,
        }

    chars: list[dict[str, Any]] | None = None
    if norm is None:  # with Unicode normalisation on, characters take the general path
        chars = objects["char"] = []

    def walk(items) -> None:
        for obj in items:
            if chars is not None and type(obj) is PdfiumChar:
                chars.append(pdfium_char(obj))
            elif isinstance(obj, LTContainer):
                if with_containers:
                    converted = convert(obj)
                    objects.setdefault(converted["object_type"], []).append(converted)
                walk(obj._objs)
            elif not isinstance(obj, LTAnno):  # pdfplumber drops these virtual spaces and line ends too
                converted = convert(obj)
                objects.setdefault(converted["object_type"], []).append(converted)

    walk(layout._objs)
    if not objects.get("char"):
        objects.pop("char", None)  # pdfplumber has no key for a kind the page lacks
    return objects
