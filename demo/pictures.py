"""Product photos drawn with Pillow (a book, a notebook, a bookmark, a tote bag) on a soft
backdrop with a shadow: the demo's goods look like goods, and no image is bundled."""

from __future__ import annotations

import io

from PIL import Image, ImageColor, ImageDraw, ImageFilter


def picture(kind: str, colour: str) -> bytes:
    """A photo of a `kind` of thing ("book", "notebook", "bookmark", "bag") in `colour`."""
    size = 800
    image = Image.new("RGB", (size, size), "#f3eee4")
    draw = ImageDraw.Draw(image)
    for y in range(size):  # a backdrop lit from above
        shade = 243 - y // 40
        draw.line([(0, y), (size, y)], fill=(shade, shade - 5, shade - 16))
    shadow = Image.new("L", (size, size), 0)
    shadow_draw = ImageDraw.Draw(shadow)
    if kind == "bookmark":
        box = (330, 120, 470, 690)
    elif kind == "notebook":
        box = (200, 140, 600, 680)
    elif kind == "bag":
        box = (190, 260, 610, 700)
    else:
        box = (210, 130, 590, 690)
    shadow_draw.rounded_rectangle(
        (box[0] + 24, box[1] + 30, box[2] + 24, box[3] + 30), radius=18, fill=120
    )
    image.paste((90, 80, 70), mask=shadow.filter(ImageFilter.GaussianBlur(22)))
    draw.rounded_rectangle(box, radius=14 if kind != "bookmark" else 10, fill=colour)
    x0, y0, x1, y1 = box
    dark = tuple(int(c * 0.62) for c in ImageColor.getrgb(colour))
    if kind == "book":
        draw.rectangle((x0, y0, x0 + 34, y1), fill=dark)  # the spine
        draw.rectangle((x0 + 70, y0 + 90, x1 - 50, y0 + 130), fill="#f6e7c1")
        draw.rectangle((x0 + 70, y0 + 150, x1 - 110, y0 + 170), fill="#f6e7c1")
        draw.rectangle((x0 + 70, y1 - 90, x0 + 190, y1 - 74), fill="#f6e7c1")
    elif kind == "notebook":
        draw.rectangle((x1 - 70, y0, x1 - 52, y1), fill="#3b2f25")  # the elastic band
        draw.ellipse((x0 + 120, y0 + 200, x0 + 250, y0 + 330), outline="#6b4f33", width=6)
    elif kind == "bookmark":
        draw.ellipse((x0 + 50, y0 + 40, x1 - 50, y0 + 80), fill="#f3eee4")  # the hole
        draw.line((x0 + 70, y0 + 60, x0 + 40, y0 - 60), fill="#a33", width=6)  # the ribbon
        for y in range(y0 + 140, y1 - 40, 60):
            draw.line((x0 + 30, y, x1 - 30, y), fill=dark, width=3)
    elif kind == "bag":
        for left in (x0 + 70, x1 - 190):  # the two handles, sewn on at the top
            draw.arc((left, y0 - 120, left + 120, y0 + 120), 180, 360, fill=dark, width=16)
        draw.rectangle((x0 + 110, y0 + 150, x1 - 110, y0 + 260), fill="#f6e7c1")  # the print
        draw.line((x0 + 140, y0 + 205, x1 - 140, y0 + 205), fill=dark, width=6)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
