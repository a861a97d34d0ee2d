"""An animation's caption, written by Pillow, lands where matplotlib would draw the same text."""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tinygan.pictures.caption import FrameCaption, canvas_image

TEXT = "Frame: 61/121  (iteration 600)\n26.7% of generated samples lie outside [-6, 6]\n(q) jumps, gaps"


def ink_box(pixels: np.ndarray) -> tuple[int, int, int, int]:
    """First and last rows and columns with ink (darker than mid-grey)."""
    rows, columns = np.nonzero(pixels.min(axis=2) < 128)
    return rows.min(), rows.max(), columns.min(), columns.max()


def drawn_both_ways(**text_options) -> tuple[np.ndarray, np.ndarray]:
    """The same text on an empty figure: by matplotlib, and by FrameCaption over the figure drawn without it."""
    figure = Figure(figsize=(6.4, 4), dpi=100)
    canvas = FigureCanvasAgg(figure)
    text = figure.text(s="", va="top", **text_options)
    canvas.draw()
    by_pillow = np.asarray(FrameCaption(text).draw(canvas_image(canvas), TEXT))
    text.set_text(TEXT)
    canvas.draw()
    return by_pillow, np.asarray(canvas_image(canvas))


@pytest.mark.parametrize(
    "options",
    [
        dict(x=0.05, y=0.9, fontsize=9, linespacing=1.6),
        dict(x=0.95, y=0.5, fontsize=12, linespacing=1.4, ha="right", color="#d62728"),
        dict(x=0.5, y=0.95, fontsize=8, linespacing=1.5, ha="center"),
    ],
)
def test_each_line_lands_where_matplotlib_puts_it(options):
    by_pillow, by_matplotlib = drawn_both_ways(**options)
    top, bottom, left, right = ink_box(by_pillow)
    expected = ink_box(by_matplotlib)
    assert abs(top - expected[0]) <= 1 and abs(bottom - expected[1]) <= 1  # every line at its height
    # Pillow hints glyphs to narrower advances than matplotlib (~2%): the anchored side matches.
    width = expected[3] - expected[2]
    assert abs((right - left) - width) <= 0.04 * width
    anchored = {"left": (left, expected[2]), "right": (right, expected[3])}.get(options.get("ha", "left"))
    if anchored:
        assert abs(anchored[0] - anchored[1]) <= 1


def test_the_colour_is_the_texts():
    by_pillow, _ = drawn_both_ways(x=0.1, y=0.9, fontsize=20, linespacing=1.5, color="#d62728")
    darkest = by_pillow.reshape(-1, 3)[np.argmin(by_pillow.reshape(-1, 3).sum(axis=1))]
    assert tuple(darkest) == (0xD6, 0x27, 0x28)


@pytest.mark.parametrize("options", [dict(va="bottom", linespacing=1.5), dict(va="top")])
def test_a_caption_hangs_from_its_top_with_a_fixed_line_spacing(options):
    figure = Figure()
    FigureCanvasAgg(figure).draw()
    with pytest.raises(ValueError, match="hangs from its top"):
        FrameCaption(figure.text(0.1, 0.9, "x", **options))
