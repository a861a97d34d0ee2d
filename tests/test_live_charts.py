"""The live view's charts in a real browser: a point per frame and per single step, a dot for a lone point, a y-range
that an early spike does not flatten, a log scale, setting changes marked, single steps counted.

The y-range helper (`tinygan.robustRange`) is checked on made-up values; the rest on a real `tinygan serve` (the
server and browser that conftest shares among the browser modules). A screenshot goes to /tmp/live_charts_seed.png
for a person.
"""

import re

import numpy as np
import pytest
import test_live_browser as browser

wait = browser.wait

pytestmark = pytest.mark.slow  # a server and a browser start for the module: seconds before the first test

BLUE = np.array([0x1F, 0x77, 0xB4])  # app.js: loss_d's colour


def robust_range(page, values: list, **options) -> dict:
    return page.evaluate("([values, options]) => tinygan.robustRange(values, options)", [values, options])


def redraw_charts(page, history: list, points: list) -> dict:
    """Draw the charts from made-up history rows and live points (the session is paused); what they drew."""
    drawn = page.evaluate("tinygan.chartsDrawn")
    page.evaluate("""([history, points]) => {
        const width = tinygan.scene.columns.length;
        tinygan.history = history.map((row) => [...row, ...Array(width - row.length).fill(null)]);
        tinygan.points = points;
        tinygan.redrawCharts();
    }""", [history, points])
    wait(page, "tinygan.chartsDrawn > arg", drawn)
    return page.evaluate("tinygan.charts.losses")


def blue_pixels(page) -> int:
    pixels = browser.canvas_pixels(page, "#losses")
    return int((np.abs(pixels - BLUE).sum(axis=-1) < 60).sum())


def test_the_range_leaves_out_spikes_and_falls_back_from_log(open_page):
    page = open_page()
    rng = np.random.default_rng(0)
    calm = (1 + 0.1 * rng.standard_normal(500)).tolist()

    # Five rows of a spike at the start of 500: the range is the rest's.
    drawn = robust_range(page, [100.0] * 5 + calm)
    assert 0.6 < drawn["low"] < 0.85 and 1.15 < drawn["high"] < 1.5 and drawn["log"] is False  # ~1 ± 2.5 sd
    # One spike in twenty rows: still out (the percentiles alone would keep most of it).
    drawn = robust_range(page, [50.0] + calm[:19])
    assert drawn["high"] < 2
    # A steady trend is kept whole (give or take its last 2%), padded.
    drawn = robust_range(page, np.linspace(0, 1, 101).tolist())
    assert -0.1 < drawn["low"] < 0 and 1 < drawn["high"] < 1.1
    # From zero for metrics, and a lone value gets a range around it.
    assert robust_range(page, [0.5, 0.7], zero=True)["low"] == 0
    drawn = robust_range(page, [3.0])
    assert drawn["low"] < 3 < drawn["high"]
    # Log: over decades where every value is positive; else linear, saying so.
    drawn = robust_range(page, np.geomspace(1e-3, 10, 50).tolist(), log=True)
    assert drawn["log"] is True and 5e-4 < drawn["low"] < 1e-3 and 10 < drawn["high"] < 20
    drawn = robust_range(page, [-1.0, 2.0, 3.0], log=True)
    assert drawn["log"] is False and drawn["fellBack"] is True and drawn["low"] < -1


def test_a_lone_point_is_drawn_and_a_spike_does_not_flatten(open_page):
    page = open_page()
    assert redraw_charts(page, [], [])["points"] == 0
    empty = blue_pixels(page)  # the legend swatch is outside the canvas: none, or a few from anti-aliasing
    chart = redraw_charts(page, [[0, 1.3, 0.7]], [])  # one history row
    assert chart["points"] == 1 and blue_pixels(page) > empty + 10
    point = {"x": 40, "step": 40, "losses": [1.2, 0.8], "manual": False, "nth": 1, "manualSteps": 0}
    chart = redraw_charts(page, [], [point])  # one live point
    assert chart["points"] == 1 and blue_pixels(page) > empty + 10

    # A spike in the first rows: the y-range is the rest's, and the spike is drawn at the top edge.
    rows = [[step, 40.0 if step < 30 else 1.3 + 0.05 * np.sin(step), 0.7] for step in range(0, 3000, 10)]
    chart = redraw_charts(page, rows, [])
    assert chart["high"] < 2 and chart["scale"] == "linear"


def test_the_log_checkbox_changes_the_axis(open_page):
    page = open_page()
    rows = [[step, 1.4 * 0.99 ** (step / 10) + 0.01, 0.7] for step in range(0, 5000, 10)]  # over two decades
    linear = redraw_charts(page, rows, [])
    page.check("#losses-log")
    wait(page, "document.getElementById('losses').dataset.scale === 'log'")
    logged = page.evaluate("tinygan.charts.losses")
    assert logged["scale"] == "log" and linear["scale"] == "linear"
    assert logged["ticks"] != linear["ticks"] and {0.1, 1} <= set(logged["ticks"])
    assert page.locator("#losses-scale-note").text_content() == ""
    # A loss below zero: linear, and the page says why.
    negative = redraw_charts(page, [[0, -0.5, 0.7], [10, 1.0, 0.7]], [])
    assert negative["scale"] == "linear" and "≤ 0" in page.locator("#losses-scale-note").text_content()
    page.uncheck("#losses-log")


def test_changes_are_marked_and_single_steps_counted(open_page, live):
    page = open_page()
    browser.on_preset(page, "seed", 1)
    page.select_option("#speed", "100")  # frames every few iterations (an earlier test may have left "max")
    wait(page, "tinygan.lastFrame.status.speed === 100")
    browser.play_until(page, page.evaluate("tinygan.lastFrame.step") + 300)
    before = page.evaluate("tinygan.charts.losses.points")
    browser.pause(page)
    assert page.evaluate("tinygan.points.length") > 3  # a point per frame, not only per logged row
    assert page.evaluate("tinygan.charts.losses.points") >= before

    # A change that keeps the weights: marked at its step on both charts.
    r1 = page.evaluate("tinygan.lastFrame.status.settings.r1")
    value = 0.25 if r1 != 0.25 else 0.5
    step = page.evaluate("tinygan.lastFrame.step")
    page.fill("#r1", str(value))
    page.press("#r1", "Enter")
    wait(page, "tinygan.charts.marks.some((mark) => mark.text === arg)", f"r1 {value}")
    mark = [m for m in page.evaluate("tinygan.charts.marks") if m["text"] == f"r1 {value}"][-1]
    assert mark["step"] == step
    assert int(page.get_attribute("#losses", "data-marks")) >= 1 and int(page.get_attribute("#metrics", "data-marks")) >= 1

    # Single D and G steps: counted in the header, and a ring each on the loss chart, though the step stays.
    shown = page.locator("#manual-steps")
    count = int(re.sub(r"\D", "", shown.text_content()) or 0) if shown.is_visible() else 0
    manual = page.evaluate("tinygan.charts.losses.manualPoints")
    counted = page.evaluate("tinygan.lastFrame.status.manual_steps || 0")
    for selector in ("#step-d", "#step-g", "#step-d"):
        # Each step's own frame before the next click: a frame already on its way when one is clicked answers no
        # click, and two steps in one frame are one point.
        counted += 1
        page.click(selector)
        wait(page, "tinygan.lastFrame.status.manual_steps >= arg && !tinygan.lastFrame.status.compiling", counted)
    wait(page, "tinygan.charts.losses.manualPoints >= arg", manual + 3)
    assert shown.is_visible() and shown.text_content() == f"{count + 3} single steps"
    assert page.evaluate("tinygan.lastFrame.step") == step
    xs = page.evaluate("tinygan.points.filter((p) => p.manual).slice(-3).map((p) => p.x)")
    assert all(step < x < step + 1 for x in xs) and xs == sorted(set(xs))
    page.screenshot(path="/tmp/live_charts_seed.png", full_page=True)
    page.locator(".charts").screenshot(path="/tmp/live_charts_seed_charts.png")
