"""The live view as a teaching aid, in a real browser (issue 16, items 5 and 6): a disconnected page claims neither
that the session plays nor how fast; a model graph (noise z -> G -> generated samples -> D <- real samples) lights
the side being trained; the picture's layers can be switched off one by one in its legend.

Runs on the server and browser that conftest shares among the browser modules. Screenshots go to
/tmp/live_teaching_*.png for a person to look at.
"""

import re

import numpy as np
import pytest
import test_live_browser as browser

wait = browser.wait

pytestmark = pytest.mark.slow  # a server and a browser start for the module: seconds before the first test

RATE = re.compile(r"^[\d,]+ it/s$")

# Every later WebSocket closes at once (as when the server cannot be reached), and the open one is closed.
DISCONNECT = """() => {
  window.RealWebSocket = window.WebSocket;
  window.WebSocket = class { constructor() { setTimeout(() => this.onclose && this.onclose(), 0); } close() {} };
  tinygan.socket.close();
}"""
RECONNECT = "() => { window.WebSocket = window.RealWebSocket; }"


def toolbar(page) -> dict:
    return page.evaluate("""({play: document.getElementById('play').textContent,
                               disabled: document.getElementById('play').disabled,
                               rate: document.getElementById('rate').textContent})""")


def test_a_disconnected_page_shows_no_pause_and_no_rate(live, open_page):
    page = open_page()
    page.click("#play")
    wait(page, "document.getElementById('play').textContent === 'Pause' && "
               "/ it\\/s$/.test(document.getElementById('rate').textContent)")

    page.evaluate(DISCONNECT)
    wait(page, "document.body.dataset.connected === 'false'")
    assert toolbar(page) == {"play": "Play", "disabled": True, "rate": "—"}
    page.keyboard.press("Space")  # toggles nothing while the page cannot know what it would toggle
    page.wait_for_timeout(700)  # a reconnection try or two fail meanwhile: still disconnected
    assert toolbar(page) == {"play": "Play", "disabled": True, "rate": "—"}
    assert browser.server_status(live.url)["playing"]

    page.evaluate(RECONNECT)
    wait(page, "document.body.dataset.connected === 'true' && document.getElementById('play').textContent === 'Pause'"
               " && / it\\/s$/.test(document.getElementById('rate').textContent)")
    shown = toolbar(page)
    assert shown["play"] == "Pause" and not shown["disabled"] and RATE.match(shown["rate"]), shown
    browser.pause(page)



# ---------------------------------------------------------------- the model graph

D_BLUE, G_RED, GREY = "rgb(31, 119, 180)", "rgb(214, 39, 40)", "rgb(213, 217, 223)"
GRAPH = """() => {
  const stroke = (selector) => getComputedStyle(document.querySelector(selector)).stroke;
  return {phase: document.getElementById('graph').dataset.phase, G: stroke('#graph .g-part.model rect'),
          D: stroke('#graph .d-part.model rect'), z: stroke('#graph .part:first-of-type rect')};
}"""


def graph(page) -> dict:
    return page.evaluate(GRAPH)


def test_the_model_graph_lights_the_side_being_trained(open_page):
    page = open_page()
    for phase, lit in [("d", {"G": GREY, "D": D_BLUE, "z": GREY}), ("g", {"G": G_RED, "D": GREY, "z": G_RED}),
                       ("both", {"G": G_RED, "D": D_BLUE, "z": G_RED}), ("none", {"G": GREY, "D": GREY, "z": GREY})]:
        page.evaluate("(phase) => tinygan.setPhase(phase)", phase)
        assert graph(page) == {"phase": phase, **lit}

    # On a real session: a single D step lights D, a single G step G, playing both, pausing neither.
    browser.click_and_wait_for_frame(page, "#step-d")
    wait(page, "tinygan.lastFrame.status.message.startsWith('one D step')")
    assert graph(page)["phase"] == "d" and page.text_content("#graph-phase") == "D learns, G waits"
    browser.click_and_wait_for_frame(page, "#step-g")
    wait(page, "tinygan.lastFrame.status.message.startsWith('one G step')")
    assert graph(page)["phase"] == "g"
    browser.play_until(page, page.evaluate("tinygan.lastFrame.step"))
    assert graph(page)["phase"] == "both"
    browser.pause(page)
    assert graph(page)["phase"] == "none"


# ---------------------------------------------------------------- the picture's layers

D_CURVE = (31, 119, 180)  # app.js COLORS.discriminator


def drawn_layers(page) -> list[str]:
    page.evaluate("tinygan.layout = null; tinygan.redraw()")
    wait(page, "tinygan.layout !== null")
    return page.evaluate("tinygan.layout.layers")


def toggle(page, layer: str, shown: bool) -> None:
    page.set_checked(f"#view-legend input[data-layer='{layer}']", shown)


def coloured_share(page) -> float:
    """The share of the picture's pixels with a colour (not white, grey or black): the heat map, points, curves."""
    pixels = browser.canvas_pixels(page, "#view")
    return float((pixels.max(axis=-1) - pixels.min(axis=-1) > 40).mean())


def test_one_d_layers_switch_off_and_stay_off(open_page):
    page = open_page()
    browser.on_preset(page, "seed", 1)
    browser.play_until(page, page.evaluate("tinygan.lastFrame.step") + 200)
    browser.pause(page)
    assert drawn_layers(page) == ["real", "generated", "discriminator"]
    assert browser.colour_share(browser.canvas_pixels(page, "#view"), D_CURVE) > 0.002
    all_shown = coloured_share(page)

    toggle(page, "discriminator", False)
    assert drawn_layers(page) == ["real", "generated"]
    assert browser.colour_share(browser.canvas_pixels(page, "#view"), D_CURVE, tolerance=20) < 0.0002
    toggle(page, "real", False)
    toggle(page, "generated", False)
    assert drawn_layers(page) == [] and coloured_share(page) < all_shown / 5  # what is left: a coloured note

    # Kept in the browser: a page opened later draws the same layers, its boxes unchecked.
    later = open_page()
    assert drawn_layers(later) == []
    assert later.evaluate("[...document.querySelectorAll('#view-legend input')].map((box) => box.checked)") == [
        False, False, False]
    for layer in ["real", "generated", "discriminator"]:
        toggle(later, layer, True)
    assert drawn_layers(later) == ["real", "generated", "discriminator"]
    browser.click_and_wait_for_frame(later, "#step-d")
    wait(later, "document.getElementById('graph').dataset.phase === 'd'")
    later.screenshot(path="/tmp/live_teaching_1d.png", full_page=True)


def test_two_d_layers_switch_off_and_slow_motion_shows_each_phase(open_page):
    page = open_page()
    browser.on_preset(page, "ring", 2)
    page.click("#play")  # the first play of a new game compiles: up to half a minute on a loaded machine
    wait(page, "tinygan.lastFrame.status.playing && tinygan.lastFrame.step > arg",
         page.evaluate("tinygan.lastFrame.step") + 20, timeout=90_000)
    browser.pause(page)
    assert drawn_layers(page) == ["discriminator", "manifold", "real", "generated", "arrows"]
    assert page.evaluate("tinygan.layout.arrows") > 0
    lattice = np.asarray(page.evaluate("tinygan.lastFrame.manifold"))
    assert lattice.shape == (16, 16, 2)  # the ring's 2-D noise: G's image of a 16 x 16 lattice

    # Slow motion: each iteration is D's phase (the step stays, D learns, G waits), then G's (the step goes on).
    page.check("#slow-motion")
    wait(page, "tinygan.lastFrame.status.slow_motion && document.getElementById('speed').disabled")
    step = page.evaluate("tinygan.lastFrame.step")
    page.click("#play")
    # Each phase read as one moment of the page: a phase lasts PHASE_SECONDS, and on a busy machine a second read
    # may come after the next phase began.
    wait(page, "tinygan.lastFrame.status.phase === 'd' && document.getElementById('graph').dataset.phase === 'd' && "
               "tinygan.lastFrame.step === arg && document.getElementById('graph-phase').textContent === 'D learns, G waits'",
         step)
    wait(page, "tinygan.lastFrame.status.phase === 'g' && document.getElementById('graph').dataset.phase === 'g' && "
               "tinygan.lastFrame.step === arg && document.getElementById('graph-phase').textContent === 'G learns, D waits'",
         step + 1)
    assert page.text_content("#rate") == "slow motion"
    page.screenshot(path="/tmp/live_teaching_slow_motion.png", full_page=True)
    browser.pause(page)
    page.uncheck("#slow-motion")
    wait(page, "!tinygan.lastFrame.status.slow_motion && !document.getElementById('speed').disabled")

    toggle(page, "arrows", False)
    toggle(page, "manifold", False)
    assert drawn_layers(page) == ["discriminator", "real", "generated"]
    assert page.evaluate("tinygan.layout.arrows") == 0
    toggle(page, "real", False)
    toggle(page, "generated", False)
    assert drawn_layers(page) == ["discriminator"]
    heat_map = browser.canvas_pixels(page, "#view")
    toggle(page, "discriminator", False)
    assert drawn_layers(page) == [] and coloured_share(page) < 0.005
    changed = float((np.abs(heat_map - browser.canvas_pixels(page, "#view")).max(axis=-1) > 3).mean())
    assert changed > 0.2, changed  # the heat map (pale where D is unsure, but tinted) covered the plot; now gone
    bare = browser.canvas_pixels(page, "#view")
    toggle(page, "manifold", True)
    assert drawn_layers(page) == ["manifold"]
    lines = float((np.abs(bare - browser.canvas_pixels(page, "#view")).max(axis=-1) > 20).mean())
    assert lines > 0.002, lines  # the lattice's lines alone

    for layer in ["real", "generated", "discriminator", "arrows"]:
        toggle(page, layer, True)
    assert drawn_layers(page) == ["discriminator", "manifold", "real", "generated", "arrows"]
    browser.click_and_wait_for_frame(page, "#step-g")
    wait(page, "document.getElementById('graph').dataset.phase === 'g'")
    page.screenshot(path="/tmp/live_teaching_2d.png", full_page=True)
