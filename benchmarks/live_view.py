"""The live view under watch: iterations trained per second and frames each page draws, with 0, 1 and 4 tabs.

    python benchmarks/live_view.py [--preset seed] [--settings JSON] [--seconds 10] [--speed max]

A `tinygan serve` process plays the preset at full speed while headless Chromium tabs (Debian's
/usr/bin/chromium, driven by Playwright) watch it, on the same machine: the tabs' drawing takes cores too. For each number of tabs it prints the session's
iterations per second and the frames each tab drew per second, and the ratios against the same session
with no tab and against `tinygan train`'s own loop (`training.loop.train`, measured in the same run): the machine
is shared, so only ratios within one run mean anything.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
import urllib.request

from tinygan.config import replace
from tinygan.engine.resolve import config_from_preset
from tinygan.live import settings
from tinygan.training import loop as trainer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
HORIZON = 100_000_000  # iterations: the session never reaches its end while measured


def start_server(preset: str) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen([sys.executable, "-m", "tinygan", "serve", "--port", "0", "--preset", preset,
                               "--num-steps", str(HORIZON)], stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    address = re.search(r"http://\S+", line)
    if address is None:
        server.kill()
        raise SystemExit(f"live_view: the server did not start: {line!r}")
    return server, address.group(0)


def call(url: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path.lstrip("/"), data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.load(reply)


def measure(url: str, pages: list, seconds: float) -> dict:
    """Iterations per second of the session and frames per second drawn by each page, over `seconds`."""
    drawn = [page.evaluate("window.tinygan.framesDrawn") for page in pages]
    start, began = call(url, "/api/session")["step"], time.perf_counter()
    time.sleep(seconds)
    step, elapsed = call(url, "/api/session")["step"], time.perf_counter() - began
    frames = [(page.evaluate("window.tinygan.framesDrawn") - before) / elapsed for page, before in zip(pages, drawn)]
    return {"its": (step - start) / elapsed, "frames_per_tab": frames}


def wait_compiled(url: str, timeout: float = 300) -> None:
    """Until the session plays at its full rate: its programs compiled, and the faster ones that the first chunks
    ask for in the background too (the rate over 2 s no longer climbs by a tenth)."""
    deadline, rates = time.monotonic() + timeout, [0.0]
    while True:
        step, began = call(url, "/api/session")["step"], time.perf_counter()
        time.sleep(2)
        rates.append((call(url, "/api/session")["step"] - step) / (time.perf_counter() - began))
        if 0 < rates[-1] < 1.1 * rates[-2] and len(rates) > 3:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"live_view: the rate still climbs after {timeout:g} s")


def train_rate(preset: str, changes: dict, steps: int) -> float:
    """`tinygan train`'s iterations per second on the session's settings: its compiled loop and the history's
    metrics, which the live view computes too (compiling aside; the final metrics, under a second, are in, so
    `steps` should be many)."""
    config = replace(settings.apply(config_from_preset(preset), changes, None) if changes else
                     config_from_preset(preset), num_steps=steps)
    seconds = trainer.train(config, frames=False).metrics["seconds"]
    return steps / (seconds["train"] + seconds["metrics"])


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="seed")
    parser.add_argument("--settings", type=json.loads, default={},
                        help='the page\'s settings to change first, as JSON: \'{"target": "ring", "noise_dim": 2}\'')
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--speed", default="max", help="iterations a second, or max")
    args = parser.parse_args()
    speed = None if args.speed == "max" else int(args.speed)

    baseline = train_rate(args.preset, args.settings, 20_000 if args.preset.startswith("seed") else 2_000)
    server, url = start_server(args.preset)
    rows = []
    try:
        if args.settings:
            call(url, "/api/settings", args.settings)
        call(url, "/api/control", {"action": "speed", "value": speed})
        call(url, "/api/control", {"action": "play"})
        wait_compiled(url)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pages = []
            for tabs in (0, 1, 4):
                while len(pages) < tabs:
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    page.goto(url)
                    page.wait_for_function("window.tinygan && window.tinygan.framesDrawn > 0", timeout=30_000)
                    pages.append(page)
                rows.append({"tabs": tabs, **measure(url, pages, args.seconds)})
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)

    alone = rows[0]["its"]
    print(f"live view, preset {args.preset}{f', settings {json.dumps(args.settings)}' if args.settings else ''}, "
          f"speed {args.speed}, {args.seconds:g} s per row")
    print(f"tinygan train (loop and history metrics): {baseline:,.0f} it/s")
    print("| tabs | it/s | vs. no tab | vs. tinygan train | frames/s per tab (min-max) |")
    print("| ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        frames = row["frames_per_tab"]
        shown = f"{min(frames):.1f}-{max(frames):.1f}" if frames else "-"
        print(f"| {row['tabs']} | {row['its']:,.0f} | {row['its'] / alone:.2f}x | {row['its'] / baseline:.2f}x | "
              f"{shown} |")


if __name__ == "__main__":
    main()
