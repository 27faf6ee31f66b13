"""Static SVG charts for the published site: drawn at publish time, every label escaped.

Each function returns SVG text that works as a file of its own and inline in an HTML page (links inside
it work inline; a `<title>` on a shape is its tooltip).  A chart is a labelled group, not an image: it
holds links, and an image's content is hidden from assistive technology.
"""

from __future__ import annotations

import math

from markupsafe import escape

FONT = "font-family=\"system-ui, sans-serif\""


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
                f'<title>{lab}: {value} {escape(unit)}</title></rect>'
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
                    f'<title>{escape(label[a])} – {escape(label[b])}: {w} {escape(unit)}</title></line>')  # fmt: skip
    for nid, name, n, href in nodes:
        x, y, a = pos[nid]
        rad = 6 + 16 * math.sqrt(n / biggest)
        lx, ly = x + (rad + 6) * math.cos(a), y + (rad + 6) * math.sin(a) + 4
        anchor = "middle" if abs(math.cos(a)) < 0.3 else ("start" if math.cos(a) > 0 else "end")
        lab = escape(name)
        item = (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{rad:.1f}" fill="#f4a259" stroke="#7a4a14">'
                f'<title>{lab}: {n} organisations</title></circle>'
                f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="13" text-anchor="{anchor}" {FONT}>{lab}</text>')  # fmt: skip
        body.append(f'<a href="{escape(href)}">{item}</a>' if href else item)
    return _svg(size, size, title, body, key)


def matrix_chart(nodes: list[tuple[str, str, str | None]], edges: list[tuple[str, str, int]], title: str,
                 unit: str = "shared projects", key: str = "matrix") -> str:
    """A symmetric matrix: a row and a column per node (id, label, link), each cell holds the weight of the
    edge (a, b, weight) as a number on a shade of its size, readable without hovering."""
    n = len(nodes)
    label_w, cell, top = 120, 34, 118
    width, height = label_w + cell * n + 4, top + cell * n + 4
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
                        f'<title>{escape(name_a)} – {escape(name_b)}: {w} {escape(unit)}</title></rect>'
                        f'<text x="{x + (cell - 2) / 2:.1f}" y="{y + cell / 2 + 3:.1f}" font-size="12" text-anchor="middle" '
                        f'fill="{ink}" {FONT}>{w if w else ""}</text>')  # fmt: skip
    return _svg(width, height, title, body, key)
