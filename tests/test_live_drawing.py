"""Drawing your own data in the live view, in a real browser (issue 16, item 5): in draw mode, a click on the picture
adds a point and a drag sprays a cloud of them, in orange, counted in the draw bar; "Train on drawn points" sends
them as a CSV by the upload's road, and the session trains on them like an uploaded file (one column on a 1-D
picture, two on a 2-D one). Leaving draw mode (its button, Escape) keeps nothing.

Runs on the server and browser that conftest shares among the browser modules; every preset or target change
compiles programs there, so the tests change as few as they can. Screenshots go to /tmp/live_drawing_*.png for a
person to look at.
"""

import io
import json

import numpy as np
import pytest
import test_live_browser as browser

wait = browser.wait

pytestmark = pytest.mark.slow  # a server and a browser start for the session: seconds before the first test

SPRAY_RADIUS = 10  # app.js: a drag's points land within this many CSS pixels of the pointer
CIRCLE = 12  # CSS pixels: the drags below circle their centre at this radius
UPLOADED = ("tinygan.scene.version > arg && tinygan.scene.status.settings.target === 'upload' && "
            "tinygan.lastFrame !== null && !document.getElementById('target').classList.contains('pending')")


def pixel_of(page, point: list[float]) -> tuple[float, float]:
    """Where data `point` ([x] or [x, y]) lies on the screen, by the page's own mapping (`tinygan.toPixel`)."""
    canvas = page.locator("#view").bounding_box()
    pixel = page.evaluate("(point) => tinygan.toPixel(point)", point)
    return canvas["x"] + pixel["x"], canvas["y"] + pixel["y"]


def middle(page) -> list[float]:
    """The data point at the middle of the picture's view."""
    return page.evaluate("tinygan.scene.view.map(([low, high]) => (low + high) / 2)")


def drag(page, centre: list[float], turns: int = 2, moves: int = 30) -> None:
    """Press on the picture at data point `centre`, circle it `turns` times at CIRCLE pixels in `moves` moves,
    release: a click's point and a spray of some 3 points a move."""
    x, y = pixel_of(page, centre)
    page.mouse.move(x, y)
    page.mouse.down()
    for angle in np.linspace(0, 2 * np.pi * turns, moves):
        page.mouse.move(x + CIRCLE * np.cos(angle), y + CIRCLE * np.sin(angle))
    page.mouse.up()


def pixels_per_unit(page, axis: int = 0) -> float:
    """CSS pixels per data unit along the picture's `axis`."""
    view = page.evaluate("tinygan.scene.view")
    low, high = view[axis]
    ends = [pixel_of(page, [v] if len(view) == 1 else [v * (axis == 0), v * (axis == 1)]) for v in (low, high)]
    return abs(ends[1][axis] - ends[0][axis]) / (high - low)


def drawn(page) -> np.ndarray:
    """The drawing's points, (n, dim)."""
    points, dim = page.evaluate("[tinygan.drawing.points, tinygan.drawing.dim]")
    return np.asarray(points, np.float64).reshape(-1, dim)


def count_text(page) -> str:
    return page.text_content("#draw-count")


def start_drawing(page) -> None:
    page.click("#draw")
    wait(page, "tinygan.drawing.on && document.body.dataset.drawing === 'true'")
    assert page.text_content("#draw") == "Stop drawing" and count_text(page) == "0 points drawn"


def train_on_drawing(page, live) -> tuple[np.ndarray, np.ndarray]:
    """Press "Train on drawn points" and wait for the session to train on them: (the points drawn, the rows of the
    file the server kept)."""
    uploads = live.folder / "runs" / "uploads"
    kept = set(uploads.glob("*")) if uploads.exists() else set()
    points, version = drawn(page), page.evaluate("tinygan.scene.version")
    page.click("#draw-train")
    wait(page, UPLOADED, version)
    wait(page, "!tinygan.drawing.on && tinygan.drawing.points.length === 0")  # after the reply, by HTTP
    assert browser.banner(page) is None and page.input_value("#target") == "upload"
    assert page.evaluate("document.getElementById('target').selectedOptions[0].textContent") == "uploaded file"
    assert page.text_content("#draw") == "Draw data" and page.is_hidden("#draw-train")
    new = set(uploads.glob("*")) - kept
    assert len(new) == 1, new
    rows = np.loadtxt(new.pop(), delimiter=",", skiprows=1, ndmin=2)
    return points, rows


def test_one_d_drawing_sends_its_points_as_an_upload(live, open_page):
    page = open_page()
    browser.on_one_d_target(page)
    start_drawing(page)
    assert "1-D" in page.text_content("#draw-text") and "one column" in page.text_content("#draw-text")

    # Around x at 1/4 of the view: a click there, then a drag's cloud; the rug and density show them.
    low, high = page.evaluate("tinygan.scene.view[0]")
    centre = low + 0.25 * (high - low)  # away from the preset targets, near the middle
    drag(page, [centre])
    points = drawn(page)
    assert points.shape[1] == 1 and len(points) > 40
    assert count_text(page) == f"{len(points)} points drawn"
    spread = (CIRCLE + SPRAY_RADIUS + 1) / pixels_per_unit(page)
    assert np.abs(points[:, 0] - centre).max() <= spread and np.abs(points[:, 0] - centre).min() < spread / 10
    wait(page, "tinygan.layout.drawn === arg", len(points))
    page.screenshot(path="/tmp/live_drawing_1d.png")

    # Play goes on in draw mode, and the drawing stays.
    browser.play_until(page, page.evaluate("tinygan.lastFrame.step"), timeout=90_000)  # its programs may compile
    browser.pause(page)
    assert page.evaluate("tinygan.drawing.on") and len(drawn(page)) == len(points)

    # Sent as an upload (one column, 7 digits). The request is answered here with a refusal, so the server
    # compiles nothing (the 2-D test trains on its drawing through the server): the banner gives the reason,
    # and the points stay to try again.
    sent = []

    def refuse(route):
        sent.append(route.request.post_data)
        route.fulfill(status=400, content_type="application/json", body=json.dumps({"error": "refused here"}))

    page.route("**/api/upload", refuse)
    page.click("#draw-train")
    wait(page, "!document.getElementById('error').hidden")
    page.unroute("**/api/upload")
    assert browser.banner(page) == "refused here" and page.evaluate("tinygan.drawing.on")
    assert len(drawn(page)) == len(points) and len(sent) == 1 and sent[0].startswith("x\n")
    rows = np.loadtxt(io.StringIO(sent[0]), delimiter=",", skiprows=1, ndmin=2)
    np.testing.assert_allclose(rows, points, rtol=1e-6, atol=1e-6 * (high - low))
    page.keyboard.press("Escape")
    wait(page, "!tinygan.drawing.on")


def test_two_d_drawing_trains_on_two_blobs(live, open_page):
    page = open_page()
    if page.evaluate("tinygan.scene.dim") != 2:  # the ring preset: a 1-D upload's data preset has 1-D noise
        page.select_option("#preset", "ring")
        wait(page, "tinygan.scene.dim === 2 && tinygan.lastFrame !== null && tinygan.framesDrawn > 0", timeout=90_000)
    start_drawing(page)
    assert "2-D" in page.text_content("#draw-text") and "two columns" in page.text_content("#draw-text")

    # Two blobs, at a quarter and three quarters of the view on both axes.
    view = np.asarray(page.evaluate("tinygan.scene.view"), np.float64)
    blobs = view[:, 0] + np.outer([0.25, 0.75], view[:, 1] - view[:, 0])  # (2, 2): a blob's (x, y) a row
    for blob in blobs:
        drag(page, blob.tolist())
    points = drawn(page)
    assert points.shape[1] == 2 and len(points) > 80 and count_text(page) == f"{len(points)} points drawn"
    spread = (CIRCLE + SPRAY_RADIUS + 1) / min(pixels_per_unit(page, 0), pixels_per_unit(page, 1))
    nearest = np.linalg.norm(points[:, None] - blobs[None], axis=-1)  # (n, 2)
    assert nearest.min(axis=1).max() <= spread and min(np.bincount(nearest.argmin(axis=1), minlength=2)) > 30
    wait(page, "tinygan.layout.drawn === arg", len(points))
    page.screenshot(path="/tmp/live_drawing_2d.png")

    sent, rows = train_on_drawing(page, live)
    assert rows.shape == (len(points), 2)
    np.testing.assert_allclose(rows, sent, rtol=1e-6, atol=1e-6 * np.ptp(view))
    assert page.evaluate("tinygan.scene.dim") == 2 and page.evaluate("document.body.dataset.dim") == "2"
    real = np.asarray(page.evaluate("tinygan.scene.real.points"), np.float64)
    distances = np.linalg.norm(real[:, None] - blobs[None], axis=-1).min(axis=1)
    assert len(real) > 50 and distances.max() <= spread, distances.max()


def test_too_few_points_send_nothing(live, open_page):
    page = open_page()
    version, target = page.evaluate("tinygan.scene.version"), browser.server_status(live.url)["settings"]["target"]
    start_drawing(page)
    x, y = pixel_of(page, middle(page))
    for dx in (-20, 0, 20):  # three clicks: a point each
        page.mouse.click(x + dx, y)
    assert count_text(page) == "3 points drawn"
    page.click("#draw-train")
    wait(page, "!document.getElementById('error').hidden")
    assert browser.banner(page) == "Draw at least 10 points to train on them (3 drawn)"
    page.wait_for_timeout(300)  # were anything sent, its scene would come meanwhile
    assert page.evaluate("tinygan.scene.version") == version
    assert browser.server_status(live.url)["settings"]["target"] == target
    assert page.evaluate("tinygan.drawing.on") and len(drawn(page)) == 3  # kept: draw more, then train
    page.keyboard.press("Escape")  # leaving draw mode takes the drawing's line from the banner
    wait(page, "!tinygan.drawing.on && document.getElementById('error').hidden")


def test_leaving_draw_mode_keeps_nothing(open_page):
    page = open_page()
    start_drawing(page)
    drag(page, middle(page), turns=1, moves=8)
    assert len(drawn(page)) > 10
    page.click("#draw-clear")
    assert count_text(page) == "0 points drawn" and len(drawn(page)) == 0

    drag(page, middle(page), turns=1, moves=8)
    page.keyboard.press("Escape")
    wait(page, "!tinygan.drawing.on && document.body.dataset.drawing === 'false'")
    assert len(drawn(page)) == 0 and page.is_hidden("#draw-count") and page.is_hidden("#draw-train")
    wait(page, "tinygan.layout.drawn === 0")

    # Off, a drag on the picture draws nothing; on again, the drawing starts empty; the button leaves too.
    drag(page, middle(page), turns=1, moves=8)
    assert len(drawn(page)) == 0
    start_drawing(page)
    drag(page, middle(page), turns=1, moves=8)
    assert len(drawn(page)) > 10
    page.click("#draw")
    wait(page, "!tinygan.drawing.on")
    assert len(drawn(page)) == 0 and page.text_content("#draw") == "Draw data"
