"""CORDIS XML edition: one <project> document -> a project row and its participation rows.

Kept free of pandas and of the rest of baltetl so that parse worker processes start fast.
"""

from __future__ import annotations

import re
from array import array
from typing import NamedTuple

from lxml import etree

from .values import participation_row, project_row

# remove_blank_text: the files are pretty-printed; dropping whitespace-only nodes parses ~20 % faster
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=True)


def parse_batch(batch: list[tuple[str, bytes]]) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """[(ref, xml bytes)] -> (project columns, participation columns, rejects as (key, ref, check, value)); the
    rows cleaned by values.py, handed back column by column ([] when none; see compact)."""
    projects, parts, rejects = [], [], []
    for ref, data in batch:
        key = ref.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        try:
            root = parse_document(data)
        except etree.XMLSyntaxError as exc:
            rejects.append((key, ref, "xml_syntax", str(exc)[:500]))
            continue
        if root.tag != "project":
            rejects.append((key, ref, "xml_root", str(root.tag)))
            continue
        proj, rows = xml_project(root, ref)
        projects.append(project_row(proj))
        parts.extend(map(participation_row, rows))
    return compact(zip(*projects)), compact(zip(*parts)), rejects


def compact(columns) -> list:
    """Each column of strings (and None) as Strings, the others (booleans; no value at all) as a list: a
    column's values then cross to the main process as one buffer, and are held there as an Arrow string
    array a third the size of as many Python strings (which stay in the worker).  See source._column."""
    out = []
    for values in columns:
        values = list(values)
        nulls = values.count(None)
        if nulls == len(values):
            out.append(values)
            continue
        try:
            text = SEP.join([NULL if v is None else v for v in values])
            data = text.encode()
        except (TypeError, UnicodeEncodeError):  # a column of booleans or numbers (or a lone surrogate)
            out.append(values)
            continue
        if text.count(SEP) == len(values) - 1 and text.count(NULL) == nulls:  # (as XML text always is)
            out.append(Strings(data))
            continue
        encoded = [b"" if v is None else v.encode() for v in values]
        lengths = array("i", [-1 if v is None else len(e) for v, e in zip(values, encoded)])
        out.append(Strings(b"".join(encoded), lengths))
    return out


SEP, NULL = "\x00", "\x01"  # characters XML 1.0 text never holds (not even as a character reference)


class Strings(NamedTuple):
    """A column of strings (and None) as UTF-8 bytes: the values joined by SEP with NULL for None, or (a
    value holding either character) end to end with each one's length in bytes (-1: None).  Made so in the
    worker with no import and little work per value (Arrow's pa.array imported pyarrow and pandas in each
    worker: ~1.5 s of CPU in a CORDIS refresh); the main process makes it an Arrow array (to_arrow)."""

    data: bytes
    lengths: array | None = None

    @staticmethod
    def joined(chunks: list) -> list:
        """`chunks` (a column's, batch by batch) with each run of Strings without lengths joined into one: made an
        Arrow array at once, not batch by batch (two Arrow calls per batch and column took ~0.7 s of a CORDIS
        parse's end)."""
        out, run = [], []
        for c in chunks:
            if isinstance(c, Strings) and c.lengths is None:
                run.append(c.data)
                continue
            if run:
                out.append(Strings(SEP.encode().join(run)))
                run = []
            out.append(c)
        if run:
            out.append(Strings(SEP.encode().join(run)))
        return out

    def to_arrow(self):
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.lengths is None:
            whole = pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(np.array([0, len(self.data)], np.int32)),
                                                           pa.py_buffer(self.data)])  # fmt: skip
            values = pc.split_pattern(whole, SEP).flatten()
            return pc.if_else(pc.equal(values, NULL), pa.scalar(None, pa.string()), values)
        lengths = np.frombuffer(self.lengths, dtype=np.int32)
        valid = lengths >= 0
        offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
        np.cumsum(np.where(valid, lengths, 0), out=offsets[1:])
        nulls = len(valid) - int(np.count_nonzero(valid))
        bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
        return pa.Array.from_buffers(pa.string(), len(lengths), [bitmap, pa.py_buffer(offsets), pa.py_buffer(self.data)],
                                     null_count=nulls)  # fmt: skip


# Never read, so cut out of a document's bytes before lxml parses it:
# - a <result> (a publication or deliverable of the project: ~45 % of the archive's bytes), when its start tag
#   is plain (attributes in double quotes without < or >): a self-closing or unusual one is left in place;
# - a <category> of a classification xml_project never reads (topic keywords, policy priorities, a
#   programme's or an article's collection and source: ~25 % of what is left), when its start tag begins
#   with that classification, written plainly (no entity or character reference that could spell another).
_RESULT_START = re.compile(rb'<result(?:\s+[\w:.-]+="[^"<>]*")*\s*>')
_UNREAD_CATEGORY_START = re.compile(  # (to the classification's end: the rest is inside the element anyway)
    rb'<category classification="(?!(?:organizationActivityType|euroSciVoc|projectFundingSchemeCategory)")[^"<>&]*"'
)


def without_unread(data: bytes) -> bytes:
    """`data` without the <result> and unread <category> elements that can be cut exactly, else `data` itself.

    Exactly: every "<result" and "<category" is then markup (no CDATA, comment, DOCTYPE or processing
    instruction after the declaration, where it could be text), and each cut runs from a start tag to the
    first end tag of its name with no other element of that name starting in between (else nothing of that
    name is cut).  A cut that still does not end at its own element's end (its end tag written "</result >",
    inside a result whose start tag is not plain) leaves an unmatched tag, so the shortened document does
    not parse and parse_document takes the whole one.
    """
    if not _markup_only(data):
        return data
    return _cut(_cut(data, b"result", _RESULT_START), b"category", _UNREAD_CATEGORY_START)


def _cut(data: bytes, name: bytes, start: re.Pattern) -> bytes:
    """`data` without the <name> elements whose start tag `start` matches (see without_unread)."""
    find, opening, closing = data.find, b"<" + name, b"</" + name + b">"
    out, pos, view = [], 0, memoryview(data)  # the kept parts are copied once, by the join
    i = find(opening)
    while i >= 0:
        m = start.match(data, i)
        if m is None:
            i = find(opening, i + len(opening))
            continue
        inside = m.end()
        # the next element's start first, then this one's end before it: each byte is searched once for each
        nxt = find(opening, inside)
        end = find(closing, inside, len(data) if nxt < 0 else nxt)
        if end < 0:  # no end, or another element of the name starts before it
            return data
        out.append(view[pos:i])
        pos = end + len(closing)
        i = nxt  # (an end tag holds no start of its name: nothing starts between its end and nxt)
    if not out:
        return data
    out.append(view[pos:])
    return b"".join(out)


def _markup_only(data: bytes) -> bool:
    """No "<!" (CDATA, comment, DOCTYPE) and no "<?" but the declaration at the start."""
    for ch in (b"!", b"?"):
        i = data.find(ch, 1)
        while i >= 0:
            if data[i - 1] == 0x3C and not (i == 1 and ch == b"?"):  # 0x3C: "<"
                return False
            i = data.find(ch, i + 1)
    return True


def parse_document(data: bytes):
    """The parsed document, its <result> and unread <category> elements left out when possible (see
    without_unread); a syntax error is the whole document's.  (A syntax error inside a cut element alone no
    longer rejects the project: nothing of it is read.)"""
    lean = without_unread(data)
    if lean is not data:
        try:
            return etree.fromstring(lean, PARSER)
        except etree.XMLSyntaxError:
            pass
    return etree.fromstring(data, PARSER)


def _text(ch) -> str | None:
    """A child's text, stripped (None: none): all its text when it holds more than text (an entity reference,
    which PARSER never resolves, a comment, an element), the reference as written: 'A&xxe;B' stays 'A&xxe;B'."""
    v = ch.text if not len(ch) else "".join(ch.itertext())
    if v is not None:
        v = v.strip()
        if v:
            return v
    return None


def _children(el, wanted: frozenset) -> dict:
    """Text of the direct children whose tag is wanted (one pass; much faster than findtext per field): the last
    of a tag with text counts."""
    out = {}
    for ch in el:
        tag = ch.tag
        if tag in wanted:
            v = ch.text if not len(ch) else "".join(ch.itertext())  # (as _text)
            if v is not None:
                v = v.strip()
                if v:
                    out[tag] = v
    return out


def _last(el, tag: str) -> str | None:
    """The text of the last direct child `tag` of `el` with text (as _children): only those children are
    visited (lxml matches the tag without making the others)."""
    out = None
    for ch in el.iterchildren(tag):
        v = _text(ch)
        if v is not None:
            out = v
    return out


_PROJECT_TAGS = frozenset(
    "id acronym title status startDate endDate totalCost ecMaxContribution ecSignatureDate keywords "
    "objective contentUpdateDate".split()
)
_ORG_TAGS = frozenset("id rcn vatNumber legalName shortName departmentName".split())
_ADDRESS_TAGS = frozenset("street city postalCode country geolocation url".split())


def xml_project(root, ref: str) -> tuple[tuple, list[tuple]]:
    """One <project> element -> (project row, participation rows).  One pass over each element's children."""
    d = {}
    legal, topics, esv, rows, orgs = [], [], [], [], []
    master = sub = scheme = framework = doi = None
    for ch in root:
        tag = ch.tag
        if tag in _PROJECT_TAGS:
            v = _text(ch)
            if v is not None:
                d[tag] = v
        elif tag == "identifiers":
            doi = _last(ch, "grantDoi")
        elif tag == "relations":
            for block in ch:
                if block.tag == "associations":
                    for el in block:
                        tag = el.tag
                        if tag == "organization":
                            orgs.append(el)  # (made once the project's id and update date are known)
                        elif tag == "programme":
                            typ = el.get("type")
                            if typ == "relatedLegalBasis":
                                c = _children(el, _LEGAL)
                                if "code" in c:
                                    legal.append(c["code"])
                                framework = framework or c.get("frameworkProgramme")
                            elif typ == "relatedTopic":
                                code = _last(el, "code")
                                if code:
                                    topics.append(code)
                        elif tag == "call":
                            typ = el.get("type")
                            if typ == "relatedMasterCall":
                                master = _last(el, "identifier")
                            elif typ == "relatedSubCall":
                                sub = _last(el, "identifier")
                elif block.tag == "categories":
                    for c in block:
                        cls = c.get("classification")
                        if cls == "projectFundingSchemeCategory":
                            scheme = (_last(c, "code") or "").lstrip("/") or None
                        elif cls == "euroSciVoc":
                            code = _last(c, "code")
                            if code:
                                esv.append(code)
    g = d.get
    pid = g("id")
    cupdate = g("contentUpdateDate")
    rows = [_xml_participation(el, pid, ref, cupdate) for el in orgs]
    proj = (
        pid, ref, pid, g("acronym"), g("title"), g("status"), g("startDate"), g("endDate"), g("totalCost"),
        g("ecMaxContribution"), g("ecSignatureDate"), framework, scheme, ";".join(legal) or None,
        ";".join(topics) or None, master, sub, g("keywords"), ";".join(esv) or None, g("objective"), doi,
        cupdate,
    )  # fmt: skip
    return proj, rows


_LEGAL = frozenset(["code", "frameworkProgramme"])


def _xml_participation(el, pid: str | None, ref: str, cupdate: str | None) -> tuple:
    get = el.get
    d: dict = {}
    addr: dict = {}
    activity = None
    nuts = []
    for ch in el:
        tag = ch.tag
        if tag in _ORG_TAGS:
            v = _text(ch)
            if v is not None:
                d[tag] = v
        elif tag == "address":
            addr = _children(ch, _ADDRESS_TAGS)
        elif tag == "relations":
            for block in ch:
                if block.tag == "categories":
                    for c in block:
                        if c.get("classification") == "organizationActivityType":
                            activity = _last(c, "code")
                elif block.tag == "regions":
                    for r in block:
                        if r.get("type") == "relatedNutsCode":
                            code = _last(r, "nutsCode")
                            if code:
                                nuts.append(code)
    oid, role, order = d.get("id"), get("type"), get("order")
    g = addr.get
    return (
        f"{pid}/{oid}/{role}/{order}", ref, pid, oid, role, order, get("ecContribution"),
        get("netEcContribution"), get("totalCost"), get("sme", ""), get("terminated", ""),
        d.get("legalName"), d.get("shortName"), d.get("vatNumber"), activity, g("street"), g("postalCode"),
        g("city"), g("country"), ";".join(nuts) or None, g("geolocation"), g("url"), d.get("departmentName"),
        cupdate, d.get("rcn"),
    )  # fmt: skip
