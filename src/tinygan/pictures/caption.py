"""An animation's caption, drawn with Pillow on each finished frame instead of by matplotlib.

The caption is the one artist whose text changes every frame, and matplotlib lays out and renders text anew
each time: about 6 ms a frame, most of a GIF's time. Pillow draws the same lines in the same font (matplotlib's
own font file, size and colour) where matplotlib would put them, in a small share of that.
"""

from __future__ import annotations

from matplotlib import font_manager
from matplotlib.colors import to_rgb
from PIL import Image, ImageDraw, ImageFont

ANCHORS = {"left": "l", "center": "m", "right": "r"}  # Pillow's horizontal anchors for matplotlib's alignments


class FrameCaption:
    """Draws text where the matplotlib `Text` artist `text` would, on frames of its figure's canvas.

    The artist (va="top", a number for its line spacing) is only read once its figure is drawn: font, size,
    colour, alignment, line spacing and place. It is never drawn: keep it animated, out of the background.
    """

    def __init__(self, text):
        if text.get_verticalalignment() != "top" or isinstance(text.get_linespacing(), str):
            raise ValueError("a frame caption hangs from its top, lines a fixed spacing apart: va='top', linespacing=1.5")
        figure = text.get_figure(root=True)
        path, pixels = font_manager.findfont(text.get_fontproperties()), text.get_fontsize() * figure.dpi / 72
        self.font = ImageFont.truetype(path, pixels)
        self.fill = tuple(round(255 * c) for c in to_rgb(text.get_color()))
        self.anchor = ANCHORS[text.get_horizontalalignment()] + "s"  # (x, y) on a line's baseline
        # As matplotlib lays out lines a fixed spacing apart: each line's ink centred in a band of
        # linespacing x (the font's ascender + descender) (matplotlib.text.Text._get_layout).
        metrics = font_manager.get_font(path).get_sfnt_table("OS/2")
        em = font_manager.get_font(path).get_sfnt_table("head")["unitsPerEm"]
        self.band = text.get_linespacing() * (metrics["sTypoAscender"] - metrics["sTypoDescender"]) * pixels / em
        x, y = text.get_transform().transform(text.get_position())
        self.x, self.top = float(x), float(figure.bbox.height - y)  # Pillow counts rows from the top

    def draw(self, image: Image.Image, text: str) -> Image.Image:
        """`image` with `text` written on it, one line per line of the text."""
        pen = ImageDraw.Draw(image)
        for row, line in enumerate(text.split("\n")):
            _, top, _, bottom = self.font.getbbox(line or " ", anchor="ls")  # the ink: -ascent, descent
            baseline = self.top + row * self.band + (self.band - top - bottom) / 2
            pen.text((self.x, baseline), line, font=self.font, fill=self.fill, anchor=self.anchor)
        return image


def canvas_image(canvas) -> Image.Image:
    """An Agg canvas's current pixels as a new RGB image (Pillow drops the alpha channel faster than numpy)."""
    return Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).convert("RGB")
