"""The live view's picture in a real browser: D's heat map is smooth and shows D's structure from the first step, its
D = ½ line is one clean line, G's arrows are thinned and capped, and no words lie on the data.

The page's pure helpers (`tinygan.picture`) are checked on made-up inputs; the drawn canvas on a real `tinygan
serve` (the server and browser that conftest shares among the browser modules). Screenshots of the view go to
/tmp/live_picture_*.png for a person to look at.
"""

import base64
import io

import numpy as np
import pytest
import test_live_browser as browser
from PIL import Image

from tinygan.live import payload
from tinygan.training.loop import Frame

wait = browser.wait

pytestmark = pytest.mark.slow  # a server and a browser start for the module: seconds before the first test

ARROW_LONGEST = 32  # app.js: the longest arrow drawn, in CSS pixels


def thinned(page, arrows: list) -> np.ndarray:
    """The page's thinning of `arrows` (x, y, dx, dy in data units) on a view where one data unit is 100 pixels,
    (0, 0) at pixel (100, 100), y up: the arrows drawn, (n, 4) pixel starts and ends."""
    drawn = page.evaluate("""(arrows) => tinygan.picture.thinnedArrows(arrows, (v) => 100 + 100 * v,
                                                                             (v) => 100 - 100 * v)""", arrows)
    return np.asarray(drawn, np.float64).reshape(-1, 4)


def test_arrows_on_one_spot_become_one_and_none_is_long(open_page):
    page = open_page()
    # A collapsed generator: 256 samples on one point, all pulled the same way -> one arrow, that pull.
    drawn = thinned(page, [[0.3, 0.2, 0.1, 0.05]] * 256)
    np.testing.assert_allclose(drawn, [[130, 80, 140, 75]], atol=1e-9)

    # Almost collapsed: 256 samples within 3 pixels of a point -> at most the 4 cells a 6-pixel blob can touch,
    # each arrow the average of its cell's (here all the same).
    rng = np.random.default_rng(0)
    starts = np.array([0.3, 0.2]) + rng.uniform(-0.03, 0.03, (256, 2))
    drawn = thinned(page, np.concatenate([starts, np.tile([0.1, 0.0], (256, 1))], axis=1).tolist())
    assert 1 <= len(drawn) <= 4
    np.testing.assert_allclose(drawn[:, 2:] - drawn[:, :2], np.tile([10.0, 0.0], (len(drawn), 1)), atol=1e-9)

    # Samples spread wider than a cell keep an arrow each; a long pull is cut to ARROW_LONGEST, its direction kept.
    grid = [[0.3 * i, 0.3 * j, 3.0, -4.0] for i in range(16) for j in range(16)]
    drawn = thinned(page, grid)
    assert len(drawn) == 256
    vectors = drawn[:, 2:] - drawn[:, :2]
    np.testing.assert_allclose(np.hypot(*vectors.T), ARROW_LONGEST, rtol=1e-9)
    np.testing.assert_allclose(vectors / ARROW_LONGEST, np.tile([0.6, 0.8], (256, 1)), atol=1e-9)  # y points down

    # Opposite pulls in one cell average to nothing; an arrow with a null (a NaN gradient) is left out.
    drawn = thinned(page, [[0.3, 0.2, 0.1, 0.0], [0.31, 0.2, -0.1, 0.0], [0.9, 0.9, None, 0.1]])
    assert len(drawn) == 1 and np.hypot(*(drawn[0, 2:] - drawn[0, :2])) < 1e-9


def circle_logits(side: int, radius: float) -> np.ndarray:
    """(side, side) logits of D, row 0 the lowest y, over [-1, 1]^2: D = ½ on a circle of `radius`."""
    axis = np.linspace(-1, 1, side)
    return 6 * (np.hypot(*np.meshgrid(axis, axis)) - radius)


def test_the_d_half_contour_is_one_closed_line(open_page):
    page = open_page()
    side, radius = 64, 0.55
    segments = np.asarray(page.evaluate("([values, side]) => tinygan.picture.contourSegments(values, side, 0)",
                                        [circle_logits(side, radius).ravel().tolist(), side]))
    ends = segments.reshape(-1, 2)  # grid units
    assert len(segments) > 50
    np.testing.assert_allclose(np.hypot(*(ends * 2 / (side - 1) - 1).T), radius, atol=0.01)  # on the circle
    _, counts = np.unique(np.round(ends, 9), axis=0, return_counts=True)
    assert (counts == 2).all(), counts  # every crossing ends two segments: one closed line, no gaps, no forks

    # Drawn: its pixels lie on the circle, and every degree of it has some (a line, not dots).
    pixels = page.evaluate("""([segments, side]) => {
        const canvas = document.createElement("canvas");
        canvas.width = canvas.height = 300;
        const ctx = canvas.getContext("2d");
        tinygan.picture.drawContour(ctx, segments, { left: 10, right: 290, top: 10, bottom: 290 }, side);
        return canvas.toDataURL();
    }""", [segments.tolist(), side])
    alpha = image(pixels)[..., 3]
    rows, columns = np.nonzero(alpha > 128)
    distance = np.hypot(columns + 0.5 - 150, rows + 0.5 - 150)
    assert np.abs(distance - radius * 140).max() < 2.5
    degrees = np.floor(np.degrees(np.arctan2(rows + 0.5 - 150, columns + 0.5 - 150))).astype(int) % 360
    assert len(np.unique(degrees)) == 360


def image(data_url: str) -> np.ndarray:
    """A canvas's toDataURL() as (height, width, 4) integers."""
    png = base64.b64decode(data_url.split(",", 1)[1])
    with Image.open(io.BytesIO(png)) as picture:
        return np.asarray(picture.convert("RGBA")).astype(int)


def heatmap_frame(decision: np.ndarray) -> dict:
    """payload.frame's heat map for D = `decision` (side, side) over [-1, 1]^2, row 0 the lowest y."""
    rng = np.random.default_rng(1)
    frame = Frame(0, decision.ravel(), rng.normal(size=(512, 2)), rng.normal(size=(256, 2)))
    return payload.frame(frame, ((-1.0, 1.0), (-1.0, 1.0)))["heatmap"]


def rendered(page, heatmap: dict, pixels: int) -> tuple[np.ndarray, np.ndarray, float]:
    """What the page makes of `heatmap`: D's logits decoded (side, side), its image `pixels` wide (RGBA) and the
    colour scale's end."""
    logits, url, end = page.evaluate("""([heatmap, pixels]) => {
        const field = tinygan.picture.decodedHeatmap(heatmap);
        const end = tinygan.picture.colourScaleEnd(field);
        return [Array.from(field.logits), tinygan.picture.heatmapImage(field, end, pixels).toDataURL(), end];
    }""", [heatmap, pixels])
    side = heatmap["side"]
    return np.asarray(logits).reshape(side, side), image(url), end


def purple_to_green(rgb: np.ndarray) -> np.ndarray:
    """Green minus the mean of red and blue: below 0 purple (D says fake), 0 grey or white, above 0 green."""
    return rgb[..., 1] - (rgb[..., 0] + rgb[..., 2]) / 2


def test_the_heat_map_is_smooth_and_shows_small_differences(open_page):
    page = open_page()
    side = 16  # coarse: a cell is 20 pixels, so per-cell colouring would show as steps
    rows, columns = np.mgrid[0:side, 0:side]
    logits = 4 * np.sin(columns / 3) * np.cos(rows / 5)
    decision = 1 / (1 + np.exp(-logits))
    decoded, pixels, _ = rendered(page, heatmap_frame(decision), 320)
    np.testing.assert_allclose(decoded, logits, atol=(np.ptp(logits) / 255) / 2 + 1e-6)  # payload -> page
    rgb = pixels[..., :3]
    assert purple_to_green(rgb).min() < -30 and purple_to_green(rgb).max() > 30
    assert np.abs(np.diff(rgb, axis=0)).max() <= 4 and np.abs(np.diff(rgb, axis=1)).max() <= 4  # no steps

    # D within 1/10,000 of ½ everywhere (a network at its start): the colours still span purple to green.
    tiny = 0.5 + 1e-4 * np.sin(logits)
    decoded, pixels, end = rendered(page, heatmap_frame(tiny), 100)
    assert 0.5001 <= end <= 0.5002
    assert purple_to_green(pixels).min() < -30 and purple_to_green(pixels).max() > 30

    # D = ½ exactly: all white, no line.
    decoded, pixels, _ = rendered(page, heatmap_frame(np.full((side, side), 0.5)), 50)
    assert np.abs(pixels[..., :3] - 247).max() <= 1
    contour = page.evaluate("(values) => tinygan.picture.contourSegments(values, 16, 0)", decoded.ravel().tolist())
    assert contour == []


def assert_words_off_the_plot(layout: dict, canvas: dict) -> None:
    """Every word the picture wrote lies outside its plot box and inside the canvas."""
    box = layout["box"]
    assert layout["labels"]
    for word in layout["labels"]:
        apart = (word["right"] <= box["left"] or word["left"] >= box["right"] or word["bottom"] <= box["top"]
                 or word["top"] >= box["bottom"])
        assert apart, (word, box)
        assert 0 <= word["left"] and word["right"] <= canvas["width"], (word, canvas)
        assert 0 <= word["top"] and word["bottom"] <= canvas["height"], (word, canvas)


def view_layout(page) -> tuple[dict, dict]:
    return page.evaluate("""[tinygan.layout, {width: document.getElementById('view').clientWidth,
                                              height: document.getElementById('view').clientHeight}]""")


def redraw(page, width: int) -> None:
    """The picture drawn again, from the latest frame, on a page `width` wide; returns once it is."""
    page.set_viewport_size({"width": width, "height": 900})
    page.evaluate("tinygan.layout = null; tinygan.redraw()")
    wait(page, "tinygan.layout !== null")


def test_one_d_words_stay_off_the_curves(open_page):
    page = open_page()
    if page.evaluate("tinygan.scene.dim") != 1:
        page.select_option("#target", "gaussian")
        wait(page, "tinygan.scene.dim === 1 && tinygan.lastFrame !== null && tinygan.framesDrawn > 0")
    redraw(page, 1280)
    layout, canvas = view_layout(page)
    texts = [word["text"] for word in layout["labels"]]
    assert "D = ½" in texts and any("outside" in text for text in texts), texts
    assert_words_off_the_plot(layout, canvas)
    redraw(page, 900)  # a narrower picture: still off the curves
    assert_words_off_the_plot(*view_layout(page))


def test_ring_at_its_first_step(open_page):
    page = open_page()
    browser.on_preset(page, "ring", 2, fresh=True)
    redraw(page, 1280)
    frame = page.evaluate("tinygan.lastFrame")
    assert frame["step"] == 0 and 0.49 < frame["heatmap"]["low"] < frame["heatmap"]["high"] < 0.51
    layout, canvas = view_layout(page)
    box = layout["box"]
    size = box["right"] - box["left"]
    page.locator("#view").screenshot(path="/tmp/live_picture_ring_step0_test.png")
    drawn = image(page.evaluate("document.getElementById('view').toDataURL()"))[..., :3]
    plot = drawn[box["top"]:box["bottom"], box["left"]:box["right"]]

    # D is within 1/100 of ½ everywhere, yet the picture shows purple and green, not a washed-out white.
    assert np.percentile(purple_to_green(plot), 2) < -25 and np.percentile(purple_to_green(plot), 98) > 25

    # The heat map drawn is smooth: neighbouring pixels differ by 2 at most here (the grid's 64 x 64 values
    # coloured per cell, as before, differ by up to 9 where cells meet).
    logits, heat, _ = rendered(page, frame["heatmap"], size)
    for axis in (0, 1):
        assert np.abs(np.diff(heat[..., :3], axis=axis)).max() <= 4

    # The D = ½ line: its segments join (each crossing inside the grid ends two of them, or four at a saddle)
    # and the canvas is dark along it.
    side = frame["heatmap"]["side"]
    segments = np.asarray(page.evaluate("([values, side]) => tinygan.picture.contourSegments(values, side, 0)",
                                        [logits.ravel().tolist(), side]))
    assert len(segments) > 20
    ends, counts = np.unique(np.round(segments.reshape(-1, 2), 9), axis=0, return_counts=True)
    inside = ((ends > 1e-9) & (ends < side - 1 - 1e-9)).all(axis=1)
    assert (counts[inside] % 2 == 0).all() and (counts[~inside] == 1).all()
    middles = (segments[:, :2] + segments[:, 2:]) / 2 * size / (side - 1)
    columns = np.clip(np.floor(box["left"] + middles[:, 0]).astype(int), 1, drawn.shape[1] - 2)
    rows = np.clip(np.floor(box["bottom"] - middles[:, 1]).astype(int), 1, drawn.shape[0] - 2)
    darkest = np.min([drawn[rows + i, columns + j].mean(axis=1) for i in (-1, 0, 1) for j in (-1, 0, 1)], axis=0)
    assert (darkest < 100).mean() > 0.95, np.sort(darkest)[-20:]

    # 256 arrows on a blob of samples: a few dozen drawn.
    assert len(frame["arrows"]) == 256 and 5 <= layout["arrows"] <= 100

    # The colour bar's words and, with samples outside the view, the note that says so: off the plot, at two
    # widths (the note is forced here: at step 0 the ring's samples all lie in the view).
    assert_words_off_the_plot(layout, canvas)
    page.evaluate("tinygan.lastFrame.generated.outside = 0.25")
    for width in (1280, 900):
        redraw(page, width)
        layout, canvas = view_layout(page)
        assert any(word["text"] == "25% of generated samples outside the view" for word in layout["labels"])
        assert_words_off_the_plot(layout, canvas)
    page.locator("#view").screenshot(path="/tmp/live_picture_ring_note_test.png")
