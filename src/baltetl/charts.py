"""Static SVG charts for the published site: drawn at publish time, every label escaped.

Each function returns SVG text that works as a file of its own and inline in an HTML page (links inside
it work inline; a `<title>` on a shape is its tooltip).  A chart is a labelled group, not an image: it
holds links, and an image's content is hidden from assistive technology.
"""

from __future__ import annotations

import math

from markupsafe import escape

FONT = "font-family=\"system-ui, sans-serif\""


def _count(value, unit: str) -> str:
    """'1 organisation', '3 organisations' (units are given in the plural)."""
    return f"{value} {unit[:-1] if value == 1 and unit.endswith('s') else unit}"


def _svg(width: int, height: int, title: str, body: list[str], key: str) -> str:
    t = escape(title)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="group" aria-labelledby="chart-{key}"><title id="chart-{key}">{t}</title>'
            f'<style>a:hover text{{text-decoration:underline}}</style>{"".join(body)}</svg>')  # fmt: skip


def bar_chart(rows: list[tuple[str, int, str | None]], title: str, unit: str = "", key: str = "bars") -> str:
    """Horizontal bars, largest first: rows of (label, value, link or None)."""
    rows = sorted(rows, key=lambda r: (-r[1], r[0]))
    label_w, bar_w, row_h, top = 130, 330, 24, 30
    width, height = label_w + bar_w + 70, top + row_h * len(rows) + 10
    most = max((r[1] for r in rows), default=0) or 1
    body = [f'<text x="0" y="18" font-size="14" font-weight="bold" {FONT}>{escape(title)}</text>']
    for i, (label, value, href) in enumerate(rows):
        y = top + i * row_h
        w = max(1.0, bar_w * value / most)
        lab = escape(label)
        item = (f'<text x="{label_w - 8}" y="{y + 16}" font-size="13" text-anchor="end" {FONT}>{lab}</text>'
                f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" fill="#2a6f97">'
                f'<title>{lab}: {escape(_count(value, unit))}</title></rect>'
                f'<text x="{label_w + w + 6:.1f}" y="{y + 16}" font-size="12" {FONT}>{value}</text>')  # fmt: skip
        body.append(f'<a href="{escape(href)}">{item}</a>' if href else item)
    return _svg(width, height, title, body, key)


def network_chart(nodes: list[tuple[str, str, int, str | None]], edges: list[tuple[str, str, int]],
                  title: str, unit: str = "shared projects", key: str = "network") -> str:
    """Nodes on a circle (id, label, size, link), edges (a, b, weight) drawn with width by weight."""
    size, r = 560, 200
    cx = cy = size / 2
    pos = {}
    for i, (nid, *_rest) in enumerate(nodes):
        a = -math.pi / 2 + 2 * math.pi * i / max(1, len(nodes))
        pos[nid] = (cx + r * math.cos(a), cy + r * math.sin(a), a)
    heaviest = max((e[2] for e in edges), default=0) or 1
    biggest = max((n[2] for n in nodes), default=0) or 1
    label = {n[0]: n[1] for n in nodes}
    body = [f'<text x="0" y="18" font-size="14" font-weight="bold" {FONT}>{escape(title)}</text>']
    for a, b, w in sorted(edges, key=lambda e: e[2]):
        if a not in pos or b not in pos or w <= 0:
            continue
        (x1, y1, _), (x2, y2, _) = pos[a], pos[b]
        body.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#2a6f97" '
                    f'stroke-opacity="{0.25 + 0.6 * w / heaviest:.2f}" stroke-width="{1 + 9 * w / heaviest:.1f}">'
                    f'<title>{escape(label[a])} – {escape(label[b])}: {escape(_count(w, unit))}</title></line>')  # fmt: skip
    for nid, name, n, href in nodes:
        x, y, a = pos[nid]
        rad = 6 + 16 * math.sqrt(n / biggest)
        lx, ly = x + (rad + 6) * math.cos(a), y + (rad + 6) * math.sin(a) + 4
        anchor = "middle" if abs(math.cos(a)) < 0.3 else ("start" if math.cos(a) > 0 else "end")
        lab = escape(name)
        item = (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{rad:.1f}" fill="#f4a259" stroke="#7a4a14">'
                f'<title>{lab}: {escape(_count(n, "organisations"))}</title></circle>'
                f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="13" text-anchor="{anchor}" {FONT}>{lab}</text>')  # fmt: skip
        body.append(f'<a href="{escape(href)}">{item}</a>' if href else item)
    return _svg(size, size, title, body, key)


def matrix_chart(nodes: list[tuple[str, str, str | None]], edges: list[tuple[str, str, int]], title: str,
                 unit: str = "shared projects", key: str = "matrix") -> str:
    """A symmetric matrix: a row and a column per node (id, label, link), each cell holds the weight of the
    edge (a, b, weight) as a number on a shade of its size, readable without hovering."""
    n = len(nodes)
    label_w, cell, top = 120, 34, 118
    width, height = label_w + cell * n + 60, top + cell * n + 4  # room for the last column's slanted label
    weight = {}
    for a, b, w in edges:
        weight[(a, b)] = weight[(b, a)] = w
    heaviest = max((w for w in weight.values()), default=0) or 1
    body = [f'<text x="0" y="18" font-size="14" font-weight="bold" {FONT}>{escape(title)}</text>']
    for i, (nid, name, href) in enumerate(nodes):
        lab = escape(name)
        y = top + i * cell + cell / 2 + 5
        x = label_w + i * cell + cell / 2 + 4
        row = f'<text x="{label_w - 6}" y="{y:.1f}" font-size="13" text-anchor="end" {FONT}>{lab}</text>'
        col = (f'<text x="{x:.1f}" y="{top - 6}" font-size="13" transform="rotate(-55 {x:.1f} {top - 6})" '
               f'{FONT}>{lab}</text>')  # fmt: skip
        body += [f'<a href="{escape(href)}">{row}</a>' if href else row, f'<a href="{escape(href)}">{col}</a>' if href else col]
    for i, (a, name_a, _) in enumerate(nodes):
        for j, (b, name_b, _) in enumerate(nodes):
            x, y = label_w + j * cell, top + i * cell
            if a == b:
                body.append(f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="#e6eaed"/>')
                continue
            w = weight.get((a, b), 0)
            share = w / heaviest
            fill = f"rgb({int(255 - 99 * share)},{int(255 - 60 * share)},{int(255 - 37 * share)})"  # up to #9cc3da
            ink = "#1d2a33"  # dark on every shade: contrast above 7:1
            body.append(f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="{fill}" stroke="#d8e0e5">'
                        f'<title>{escape(name_a)} – {escape(name_b)}: {escape(_count(w, unit))}</title></rect>'
                        f'<text x="{x + (cell - 2) / 2:.1f}" y="{y + cell / 2 + 3:.1f}" font-size="12" text-anchor="middle" '
                        f'fill="{ink}" {FONT}>{w if w else ""}</text>')  # fmt: skip
    return _svg(width, height, title, body, key)


def map_chart(points: list[tuple[str, str, float, float, int, str | None]], title: str, unit: str = "organisations",
              key: str = "map") -> str:
    """A map drawn from coordinates alone (no tiles, no coastline data: works offline): points (id, label,
    lat, lon, value, link) placed by an equirectangular projection scaled at their mean latitude, a circle's
    area by its value, a light graticule of whole degrees for orientation; labels placed where they collide
    with nothing drawn before them."""
    width, pad, top = 560, 40, 30
    if not points:
        return _svg(width, 60, title, [f'<text x="0" y="18" font-size="14" font-weight="bold" {FONT}>{escape(title)}</text>'], key)
    lats, lons = [p[2] for p in points], [p[3] for p in points]
    k = math.cos(math.radians(sum(lats) / len(lats)))
    lat0, lat1, lon0, lon1 = min(lats) - 1, max(lats) + 1, min(lons) - 2, max(lons) + 5  # room for labels
    scale = (width - 2 * pad) / ((lon1 - lon0) * k)
    height = int(top + (lat1 - lat0) * scale + 2 * pad)

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return pad + (lon - lon0) * k * scale, top + pad + (lat1 - lat) * scale

    body = [f'<text x="0" y="18" font-size="14" font-weight="bold" {FONT}>{escape(title)}</text>']
    for d in range(math.ceil(lat0), math.floor(lat1) + 1):  # parallels
        _, y = xy(d, lon0)
        body.append(f'<line x1="{pad}" x2="{width - pad}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e6eaed"/>'
                    f'<text x="2" y="{y + 4:.1f}" font-size="11" fill="#5b6b75" {FONT}>{d}°N</text>')  # fmt: skip
    for d in range(math.ceil(lon0 / 5) * 5, math.floor(lon1) + 1, 5):  # meridians
        x, _ = xy(lat0, d)
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + pad}" y2="{height - pad}" stroke="#e6eaed"/>'
                    f'<text x="{x:.1f}" y="{height - pad + 14}" font-size="11" text-anchor="middle" fill="#5b6b75" {FONT}>{d}°E</text>')  # fmt: skip
    biggest = max((p[4] for p in points), default=0) or 1
    taken: list[tuple[float, float, float, float]] = []
    placed = []
    for nid, label, lat, lon, value, href in sorted(points, key=lambda p: -p[4]):
        x, y = xy(lat, lon)
        r = 4 + 18 * math.sqrt(value / biggest)
        taken.append((x - r, y - r, x + r, y + r))
        placed.append((nid, label, x, y, r, value, href))
    body_points = []
    for nid, label, x, y, r, value, href in placed:
        text = f"{label} {value}"
        w, h = 7.2 * len(text), 14
        for lx, ly, anchor in ((x + r + 3, y + 4, "start"), (x - r - 3, y + 4, "end"), (x, y - r - 4, "middle"),
                               (x, y + r + 13, "middle")):  # fmt: skip
            x0 = lx if anchor == "start" else lx - w if anchor == "end" else lx - w / 2
            box = (x0, ly - h + 3, x0 + w, ly + 3)
            inside = box[0] >= 0 and box[2] <= width and box[1] >= top
            if inside and not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in taken):
                break
        taken.append(box)
        lab = escape(label)
        item = (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="#f4a259" fill-opacity="0.85" stroke="#7a4a14">'
                f'<title>{lab}: {escape(_count(value, unit))}</title></circle>'
                f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="13" text-anchor="{anchor}" {FONT}>{lab} '
                f'<tspan font-weight="bold">{value}</tspan></text>')  # fmt: skip
        body_points.append(f'<a href="{escape(href)}">{item}</a>' if href else item)
    return _svg(width, height, title, body + body_points, key)
