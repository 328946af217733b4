"""Charts for the leader's wall as inline SVG, drawn on the server: no chart library, no CDN,
and a page that prints. Pure: (label, value) pairs in, SVG markup out (text escaped)."""
from markupsafe import Markup, escape

FONT = "font-family='sans-serif' font-size='12'"


def columns(items, width=420, height=180, colour="#2f6fb0"):
    """Vertical columns, one per (label, value), e.g. cases registered by month."""
    if not items:
        return Markup("")
    top = max(v for _, v in items) or 1
    plot, gap = height - 36, width / len(items)
    bar = gap * 0.6
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='{width}' "
             f"height='{height}' role='img'>"]
    for i, (label, value) in enumerate(items):
        h = plot * value / top
        x, y = i * gap + (gap - bar) / 2, 16 + plot - h
        parts.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{bar:.1f}' height='{h:.1f}' fill='{colour}'>"
                     f"<title>{escape(label)}：{value}</title></rect>")
        parts.append(f"<text x='{x + bar / 2:.1f}' y='{y - 3:.1f}' text-anchor='middle' {FONT}>{value}</text>")
        parts.append(f"<text x='{x + bar / 2:.1f}' y='{height - 4}' text-anchor='middle' {FONT}>"
                     f"{escape(label)}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(items, width=420, row=22, label_width=130, colour="#2f6fb0"):
    """Horizontal bars, one row per (label, value), largest first, e.g. cases by category."""
    items = sorted(items, key=lambda item: -item[1])
    if not items:
        return Markup("")
    top = max(v for _, v in items) or 1
    room = width - label_width - 40
    height = row * len(items) + 4
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='{width}' "
             f"height='{height}' role='img'>"]
    for i, (label, value) in enumerate(items):
        y, w = i * row + 2, room * value / top
        parts.append(f"<text x='{label_width - 6}' y='{y + row * 0.7:.1f}' text-anchor='end' {FONT}>"
                     f"{escape(label)}</text>")
        parts.append(f"<rect x='{label_width}' y='{y + 3}' width='{w:.1f}' height='{row - 8}' fill='{colour}'>"
                     f"<title>{escape(label)}：{value}</title></rect>")
        parts.append(f"<text x='{label_width + w + 4:.1f}' y='{y + row * 0.7:.1f}' {FONT}>{value}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))
