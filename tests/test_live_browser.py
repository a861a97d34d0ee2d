"""`tinygan serve` in a real browser: the command as a subprocess, its page in headless Chromium (Playwright).

One server and one browser for all the browser modules (per worker under pytest-xdist: conftest's `live`, from
tests/live_server.py); each test opens its own pages and leaves the session paused. What is checked is what the
page shows and holds: the step, the generated density, D's decision curve, the settings, the error banner,
downloads and screenshots. Ctrl-C must stop the server cleanly (exit code 0, within seconds) while a page is still
connected.
"""

import hashlib
import io
import json
import re
import shutil
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

from tinygan.runs import checkpoints

import live_server
from live_server import PAUSED, VIEWPORT, WAIT_MS, post, wait  # noqa: F401 (the other modules take them here)

if live_server.missing():
    live_server.skip_unless_required(live_server.missing(), allow_module_level=True)


def server_status(url: str) -> dict:
    """GET /api/session, from outside the browser."""
    with urllib.request.urlopen(url + "api/session", timeout=10) as response:
        return json.load(response)


def last_frame(page) -> dict:
    return page.evaluate("tinygan.lastFrame")


def frames_received(page) -> int:
    return page.evaluate("tinygan.framesReceived")


def click_and_wait_for_frame(page, selector: str) -> dict:
    """Click a control of a paused session and return the frame that answers it (the ones that say a program
    compiles for it come before)."""
    seen = frames_received(page)
    page.click(selector)
    wait(page, "tinygan.framesReceived > arg && tinygan.lastFrame !== null && !tinygan.lastFrame.status.compiling",
         seen)
    return last_frame(page)


def pause(page) -> dict:
    """Pause with the page's button (the session plays); the frame that says so."""
    page.click("#play")
    wait(page, PAUSED)
    return last_frame(page)


def play_until(page, step: int, timeout: int = WAIT_MS) -> dict:
    """Press play (the session is paused) and wait for a frame past `step`."""
    page.click("#play")
    wait(page, "tinygan.lastFrame && tinygan.lastFrame.status.playing && tinygan.lastFrame.step > arg", step,
         timeout=timeout)
    return last_frame(page)


def on_preset(page, preset: str, dim: int, *, fresh: bool = False) -> None:
    """Train on `preset` (of `dim` dimensions), whatever an earlier test of this worker left; with `fresh`, from
    its first step (new weights of a new seed when the session was on it already)."""
    if page.evaluate("tinygan.scene.status.settings.preset") != preset:
        page.select_option("#preset", preset)
    elif fresh and page.evaluate("tinygan.lastFrame.step") != 0:
        page.click("#reset")
        wait(page, "tinygan.lastFrame !== null && tinygan.lastFrame.step === 0")
    # a new game compiles: seconds, or a minute on a loaded machine
    wait(page, "tinygan.scene.dim === arg[1] && tinygan.scene.status.settings.preset === arg[0] && "
               "tinygan.lastFrame !== null && tinygan.framesDrawn > 0", [preset, dim], timeout=90_000)


def on_one_d_target(page) -> None:
    """Train on the 1-D Gaussian, whatever an earlier test of this worker left."""
    if page.evaluate("tinygan.scene.dim") != 1:
        page.select_option("#target", "gaussian")
        wait(page, "tinygan.scene.dim === 1 && tinygan.lastFrame !== null && tinygan.framesDrawn > 0")


def density(frame: dict) -> np.ndarray:
    return np.asarray(frame["generated"]["density"], np.float64)


def decision(frame: dict) -> np.ndarray:
    return np.asarray(frame["decision"]["y"], np.float64)


def banner(page) -> str | None:
    """The error banner's text, None while it is hidden."""
    return page.evaluate("document.getElementById('error').hidden ? null : document.getElementById('error').textContent")


def check_screenshot(page, path: Path, copy: str) -> None:
    """A screenshot of the page at `path` (and a copy at `copy`, for a person to look at): a real picture."""
    page.screenshot(path=path)
    try:
        shutil.copyfile(path, copy)
    except OSError:
        pass
    assert path.stat().st_size > 20_000
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (VIEWPORT["width"], VIEWPORT["height"])
        pixels = np.asarray(image.convert("RGB"))
    assert (pixels.max(axis=(0, 1)).astype(int) - pixels.min(axis=(0, 1))).min() > 150  # dark text on light
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 500  # curves, fills and text, not flat colour


def canvas_pixels(page, selector: str) -> np.ndarray:
    """The element's pixels as the screen shows them, (height, width, 3)."""
    with Image.open(io.BytesIO(page.locator(selector).screenshot())) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def colour_share(pixels: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 40) -> float:
    return float((np.abs(pixels - np.asarray(rgb)).max(axis=-1) <= tolerance).mean())


# ---------------------------------------------------------------- the scenarios


def test_settings_play_steps_and_downloads(live, open_page, tmp_path):
    page = open_page()
    on_one_d_target(page)
    scene = page.evaluate("tinygan.scene")
    assert scene["dim"] == 1 and scene["columns"][:3] == ["step", "loss_d", "loss_g"]
    assert page.evaluate("document.getElementById('view').dataset.version") == str(scene["version"])
    before = last_frame(page)
    assert not before["status"]["playing"]

    # A new objective goes on from the same weights and step (before the first play: one game to compile).
    objective = "minimax" if before["status"]["settings"]["objective"] == "least_squares" else "least_squares"
    page.select_option("#objective", objective)
    wait(page, "tinygan.lastFrame && tinygan.lastFrame.status.settings.objective === arg", objective)
    start = last_frame(page)
    assert banner(page) is None and page.input_value("#objective") == objective
    assert start["step"] == before["step"] and page.evaluate("tinygan.scene.version") > scene["version"]
    assert page.text_content("#message") == f"objective changed; training goes on from step {before['step']:,}"
    assert server_status(live.url)["settings"]["objective"] == objective

    # Single steps, from fresh weights (the seed's learning rate decays 5% every 150 steps: after some thousand
    # iterations one step no longer moves the picture). One D step: D's decision moves, G's density does not.
    after_d = click_and_wait_for_frame(page, "#step-d")
    assert after_d["step"] == start["step"] and after_d["status"]["message"].startswith("one D step")
    assert np.abs(decision(after_d) - decision(start)).max() > 1e-4
    np.testing.assert_array_equal(density(after_d), density(start))

    # One G step: G's density moves, D's decision does not.
    after_g = click_and_wait_for_frame(page, "#step-g")
    assert after_g["step"] == start["step"] and after_g["status"]["message"].startswith("one G step")
    assert np.abs(density(after_g) - density(after_d)).max() > 1e-3
    np.testing.assert_array_equal(decision(after_g), decision(after_d))

    # Play: the step grows and the generated density moves from frame to frame.
    first = play_until(page, start["step"])
    wait(page, "tinygan.lastFrame.step >= arg + 100", first["step"])
    second = last_frame(page)
    assert second["status"]["playing"] and page.text_content("#play") == "Pause"
    assert np.abs(density(second) - density(first)).max() > 1e-3  # some samples of 10,000 changed bins
    wait(page, "/^[\\d,]+ it\\/s$/.test(document.getElementById('rate').textContent)")
    wait(page, "Number(document.getElementById('view').dataset.step) > arg", start["step"])  # drawn, not only held
    check_screenshot(page, tmp_path / "live-1d.png", "/tmp/tinygan-live-1d.png")
    view = canvas_pixels(page, "#view")
    for colour in ((214, 39, 40), (31, 119, 180), (44, 160, 44)):  # generated density, D(x), real density
        assert colour_share(view, colour) > 1e-3, colour

    # Speed 100 it/s: about 100 iterations a second, where it played thousands (spare: a quarter second of
    # credit, a log interval, and the frames' delay).
    page.select_option("#speed", "100")
    wait(page, "tinygan.lastFrame && tinygan.lastFrame.status.speed === 100")
    played, started = last_frame(page)["step"], time.monotonic()
    wait(page, "tinygan.lastFrame.step >= arg + 50", played)
    played, seconds = last_frame(page)["step"] - played, time.monotonic() - started
    assert played <= 100 * seconds + 100, (played, seconds)
    page.select_option("#speed", "max")
    wait(page, "tinygan.lastFrame && tinygan.lastFrame.status.speed === null")

    # Pause: the step stops, the server agrees.
    paused = pause(page)
    page.wait_for_timeout(500)
    assert last_frame(page)["step"] == paused["step"] == server_status(live.url)["step"]
    assert page.text_content("#step-count") == f"step {paused['step']:,} / {paused['status']['num_steps']:,}"

    # One iteration: step + 1, drawn.
    after_step = click_and_wait_for_frame(page, "#step")
    step = paused["step"] + 1
    assert after_step["step"] == step and not after_step["status"]["playing"]
    wait(page, "document.getElementById('view').dataset.step === String(arg)", step)
    assert server_status(live.url)["step"] == step and banner(page) is None

    # A bad value: one line in the banner, the input back to the server's value, the server unharmed.
    batch_size = server_status(live.url)["settings"]["batch_size"]
    page.fill("#batch_size", "0")
    page.dispatch_event("#batch_size", "change")
    wait(page, "!document.getElementById('error').hidden")
    line = banner(page)
    assert line.startswith("Batch size: must be >= 1") and "\n" not in line, line
    wait(page, "document.getElementById('batch_size').value === String(arg)", batch_size)
    assert server_status(live.url)["settings"]["batch_size"] == batch_size

    # Label smoothing with the Wasserstein objective is refused too; a good change then clears the banner.
    page.select_option("#objective", "wasserstein")
    wait(page, "document.getElementById('error').hidden && tinygan.lastFrame && "
               "tinygan.lastFrame.status.settings.objective === 'wasserstein'")
    page.fill("#label_smoothing", "0.5")
    page.dispatch_event("#label_smoothing", "change")
    wait(page, "!document.getElementById('error').hidden")
    line = banner(page)
    assert line.startswith("Label smoothing: only the cross-entropy objectives") and "wasserstein" in line, line
    assert "\n" not in line, line
    wait(page, "document.getElementById('label_smoothing').value === '0'")
    page.select_option("#objective", objective)
    wait(page, "document.getElementById('error').hidden && tinygan.lastFrame && "
               "tinygan.lastFrame.status.settings.objective === arg", objective)
    assert server_status(live.url)["step"] == step

    # The checkpoint holds the session: its step and settings.
    with page.expect_download() as download:
        page.click("#download-checkpoint")
    preset = server_status(live.url)["settings"]["preset"]  # the session's, whatever an earlier test left
    assert download.value.suggested_filename == f"tinygan-{preset}-step-{step:09d}.npz"
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    snapshot, _ = checkpoints.load(path)
    assert snapshot.step == step and snapshot.config.train.objective == objective
    assert snapshot.config.train.num_steps == server_status(live.url)["num_steps"]

    # 1,000 samples of G as CSV: a header and 1,000 finite numbers.
    with page.expect_download() as download:
        page.click("#download-samples")
    path = tmp_path / "samples.csv"
    download.value.save_as(path)
    lines = path.read_text().splitlines()
    assert len(lines) == 1001 and lines[0] == "x"
    assert np.isfinite(np.asarray(lines[1:], np.float64)).all()

    # The config as TOML, with the objective it trains with.
    with page.expect_download() as download:
        page.click("#download-config")
    text = download.value.path().read_text()
    assert re.search(rf'^objective = "{objective}"$', text, re.MULTILINE), text
    assert banner(page) is None


def test_two_pages_watch_one_session(live, open_page):
    first, second = open_page(), open_page()
    on_one_d_target(first)
    wait(second, "tinygan.scene.dim === 1 && tinygan.lastFrame !== null")
    start = last_frame(first)["step"]
    play_until(first, start)
    counts = [frames_received(page) for page in (first, second)]
    for page, count in zip((first, second), counts):
        wait(page, "tinygan.framesReceived >= arg[0] + 3 && tinygan.lastFrame.step > arg[1]", [count, start])
    wait(second, "tinygan.lastFrame.status.playing && document.getElementById('play').textContent === 'Pause'")

    # The space bar pauses (the focus on the page, not in a control), and every page sees it.
    second.click("h1")
    second.keyboard.press("Space")
    for page in (second, first):
        wait(page, PAUSED)
    step = server_status(live.url)["step"]
    assert not server_status(live.url)["playing"]
    assert last_frame(first)["step"] == last_frame(second)["step"] == step

    # Closing one page leaves the session playing: the other keeps getting frames, with growing steps.
    play_until(second, step)
    first.close()
    step, count = last_frame(second)["step"], frames_received(second)
    wait(second, "tinygan.framesReceived >= arg[1] + 5 && tinygan.lastFrame.step > arg[0]", [step, count])
    assert server_status(live.url)["playing"]
    pause(second)


def test_upload_one_and_two_columns(live, open_page, tmp_path):
    page = open_page()
    uploads = live.folder / "runs" / "uploads"
    kept = set(uploads.glob("*")) if uploads.exists() else set()
    version = page.evaluate("tinygan.scene.version")

    # One column, two modes at -3 and 3: the target becomes the upload, a new scene shows its density.
    rng = np.random.default_rng(0)
    bimodal = np.concatenate([rng.normal(-3, 0.4, 500), rng.normal(3, 0.4, 500)])
    one = tmp_path / "bimodal.csv"
    np.savetxt(one, bimodal, fmt="%.6f", header="x", comments="")
    page.set_input_files("#upload", one)
    # The scene comes by WebSocket, the upload's reply (which ends the select's pending state) by HTTP: both.
    wait(page, "tinygan.scene.version > arg && tinygan.scene.status.settings.target === 'upload' && "
               "tinygan.lastFrame !== null && !document.getElementById('target').classList.contains('pending')",
         version)
    scene = page.evaluate("tinygan.scene")
    assert scene["dim"] == 1 and banner(page) is None
    assert page.input_value("#target") == "upload"
    assert page.evaluate("document.getElementById('target').selectedOptions[0].textContent") == "uploaded file"
    assert server_status(live.url)["settings"]["target"] == "upload"
    at = np.asarray(scene["real"]["x"])
    real = np.asarray(scene["real"]["density"])
    peak, middle = real[np.abs(at - 3) < 0.5].max(), real[np.abs(at) < 0.5].max()
    assert real[np.abs(at + 3) < 0.5].max() > 0.3 and peak > 0.3 and middle < 0.05 * peak, (peak, middle)
    digest = hashlib.sha256(one.read_bytes()).hexdigest()[:16]
    saved = uploads / f"upload-{digest}.csv"
    assert saved.read_bytes() == one.read_bytes() and set(uploads.glob("*")) == kept | {saved}

    # A file with a word where a number goes: one line that names no server path, the session as it was.
    bad = tmp_path / "bad.csv"
    bad.write_text("x\n1.5\nabc\n2.5\n")
    page.set_input_files("#upload", bad)
    wait(page, "!document.getElementById('error').hidden")
    line = banner(page)
    assert "\n" not in line and "uploaded file" in line and str(live.folder) not in line, line
    assert page.evaluate("tinygan.scene.version") == scene["version"]
    assert server_status(live.url)["settings"]["target"] == "upload"
    assert set(uploads.glob("*")) == kept | {saved}

    # Two columns, a noisy circle of radius 2: a 2-D scene, frames with D's heat map.
    angle = rng.uniform(0, 2 * np.pi, 1000)
    circle = np.stack([2 * np.cos(angle), 2 * np.sin(angle)], axis=1) + rng.normal(0, 0.05, (1000, 2))
    two = tmp_path / "circle.csv"
    np.savetxt(two, circle, fmt="%.6f", delimiter=",", header="x,y", comments="")
    page.set_input_files("#upload", two)
    # The frames come by WebSocket, the upload's reply (which clears the last line) by HTTP: wait for both.
    wait(page, "tinygan.scene.dim === 2 && tinygan.lastFrame !== null && document.getElementById('error').hidden")
    assert page.evaluate("document.body.dataset.dim") == "2"
    scene = page.evaluate("tinygan.scene")
    radii = np.hypot(*np.asarray(scene["real"]["points"]).T)
    assert abs(np.median(radii) - 2) < 0.1
    assert {"sliced_w1", "energy", "kl", "js"} <= set(scene["metrics"])
    frame = last_frame(page)
    side = frame["heatmap"]["side"]
    shades = page.evaluate("atob(tinygan.lastFrame.heatmap.values).length")
    assert side >= 10 and shades == side * side
    assert len(frame["generated"]["points"]) > 100 and len(frame["arrows"]) > 0
    page.evaluate("new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")  # drawn
    assert page.evaluate("document.getElementById('view').dataset.step") == str(frame["step"])
    check_screenshot(page, tmp_path / "live-2d.png", "/tmp/tinygan-live-2d.png")
    view = canvas_pixels(page, "#view")
    assert len(np.unique(view.reshape(-1, 3), axis=0)) > 200  # the heat map's shades, points and arrows
    assert banner(page) is None


def test_the_page_warns_when_the_noise_cannot_fill_the_target(live, open_page):
    page = open_page()
    page.select_option("#preset", "seed")  # its 1-D noise, whatever an earlier test of this worker left
    wait(page, "tinygan.scene.status.settings.preset === 'seed' && tinygan.scene.dim === 1", timeout=90_000)
    page.select_option("#target", "ring")
    wait(page, "tinygan.scene.dim === 2 && tinygan.lastFrame !== null", timeout=90_000)
    assert page.is_visible("#warning") and "cannot fill a 2-D target" in page.text_content("#warning")
    page.fill("#noise_dim", "2")
    page.dispatch_event("#noise_dim", "change")
    wait(page, "tinygan.scene.warning === '' && tinygan.lastFrame !== null &&"
              " tinygan.lastFrame.status.settings.noise_dim === 2", timeout=90_000)  # new networks: they compile
    assert not page.is_visible("#warning") and banner(page) is None
    on_one_d_target(page)
