"""The live view's web app through Starlette's test client (HTTP and the WebSocket), a run folder continued
by it, and `tinygan serve` itself as a real process.

What the app promises: the page and its script, options and status as JSON; controls and settings answer
with the status; the socket sends a scene, then frames at a bounded rate to every page at once; uploads,
downloads and every request are checked and bounded, a bad one is a 4xx reply with {"error": one line} and
the server goes on; `--run RUN` saves back into the run, which `tinygan resume` continues; Ctrl-C stops the
server cleanly, a page open or not.

One session serves most tests (module scope: its programs compile once); each test pauses it before and
after, and reads the state it starts from instead of assuming another test's order.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import gc
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import tomllib
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import jax
import numpy as np
import pytest
from helpers import assert_trees_equal
from starlette.testclient import TestClient
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

import tinygan
from tinygan import cli, runs
from tinygan.config.toml import config_toml
from tinygan.live import payload, server
from tinygan.live.app import MAX_JSON_BYTES, MAX_UPLOAD_BYTES, STATIC, create_app
from tinygan.live.session import FRAME_RATE, SPEEDS, Session
from tinygan.live.settings import options
from tinygan.runs import checkpoints
from tinygan.runs import launch as runner

# The seed preset as `tinygan serve` runs it, with a horizon no test reaches: the programs are those of
# `tinygan train --num-steps 50` (the shared compile cache has them).
LIVE_CONFIG = tinygan.config_from_preset("seed", num_steps=100_000)
SCENE_KEYS = {"type", "version", "dim", "view", "real", "columns", "metrics", "equilibrium", "warning", "history", "status"}
FRAME_KEYS = {"type", "version", "step", "status", "rows", "decision", "generated"}
FRAME_KEYS_2D = {"type", "version", "step", "status", "rows", "heatmap", "generated", "arrows", "manifold"}
COLUMNS = ["step", "loss_d", "loss_g", "mean", "std", "w1", "ks"]
SAVE_WITHOUT_RUN = "save: this session continues no run folder (start it with tinygan serve --run RUN)"


# ---------------------------------------------------------------- helpers


@contextlib.contextmanager
def deadline(seconds: float = 30):
    """A blocking read (a socket with no message coming) fails the test instead of hanging the suite."""

    def expire(number, frame):
        raise TimeoutError(f"still waiting after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def wait_until(condition, seconds: float = 60) -> None:
    deadline_at = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline_at, f"still waiting after {seconds} s"
        time.sleep(0.005)


def read_until(page, done, seconds: float = 30) -> list[dict]:
    """The socket's messages up to the first that `done` accepts (included)."""
    messages = []
    with deadline(seconds):
        while True:
            messages.append(page.receive_json())
            if done(messages[-1]):
                return messages


def control(client: TestClient, action: str, **fields) -> dict:
    reply = client.post("/api/control", json={"action": action, **fields})
    assert reply.status_code == 200, reply.text
    return reply.json()


def assert_refused(reply, status: int) -> str:
    """A refusal as the page reads it: the status, JSON {"error": one line}; the line is returned."""
    assert reply.status_code == status, (reply.status_code, reply.text[:200])
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert list(body) == ["error"] and isinstance(body["error"], str)
    assert body["error"] and "\n" not in body["error"] and len(body["error"]) <= 500
    return body["error"]


def make_client(session: Session, uploads: Path, save=None) -> TestClient:
    # raise_server_exceptions=False: a bug answers 500 as a browser sees it, instead of raising in the test.
    return TestClient(create_app(session, uploads=uploads, save=save), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The shared session and a client of its app."""
    session = Session(LIVE_CONFIG)
    uploads = tmp_path_factory.mktemp("uploads")
    try:
        with make_client(session, uploads) as client:
            yield client, session
    finally:
        session.close()


def pause(session: Session) -> None:
    """Pause, and wait for a frame that shows it: a pause's own frame can be skipped (test_live_session's
    test_a_pause_reaches_the_pages), so the speed is set again until the frame rate lets one through."""
    session.pause()

    def shown() -> bool:
        frame = json.loads(session.published.frame)
        if frame["status"]["playing"] is False and frame["step"] == session.step:
            return True
        session.set_speed(session.speed)
        return False

    wait_until(shown, seconds=20)


@pytest.fixture
def api(live):
    """The shared client and session, paused before and after the test."""
    client, session = live
    pause(session)
    yield client, session
    pause(session)


# ---------------------------------------------------------------- pages, options, status


def test_the_page_and_its_script_are_served(api):
    client, _ = api
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.content == (STATIC / "index.html").read_bytes() and b'src="/static/app.js"' in page.content
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert script.content == (STATIC / "app.js").read_bytes()


def test_options_list_every_choice_and_bound(api):
    client, _ = api
    reply = client.get("/api/options")
    assert reply.status_code == 200
    assert reply.json() == json.loads(json.dumps({**options(), "speeds": list(SPEEDS),
                                                  "max_upload_bytes": MAX_UPLOAD_BYTES}))
    body = reply.json()
    assert body["speeds"] == [1, 10, 100, 1000, None] and body["max_upload_bytes"] == 2**20
    assert body["targets"] == ["gaussian", "mixture", "ring", "grid", "spiral", "swiss_roll", "moons"]
    assert body["limits"] == {"batch_size": 4096, "n_critic": 20, "unroll_steps": 20, "noise_dim": 16,
                              "generator_width": 1024, "generator_layers": 8, "discriminator_width": 1024,
                              "discriminator_layers": 8}


def test_the_session_status(api):
    client, session = api
    reply = client.get("/api/session")
    assert reply.status_code == 200
    assert reply.json() == session.status()
    assert reply.json()["run"] is None and reply.json()["attached"] is False and reply.json()["dim"] == 1


# ---------------------------------------------------------------- controls and settings


def test_controls_answer_with_the_status(api):
    client, session = api
    step = session.step
    status = control(client, "step")
    assert status["step"] == step + 1 and status == session.status()
    status = control(client, "step_d")
    assert status["step"] == step + 1 and re.fullmatch(r"one D step: its loss \S+", status["message"])
    status = control(client, "step_g")
    assert status["step"] == step + 1 and re.fullmatch(r"one G step: its loss \S+", status["message"])
    assert control(client, "speed", value=100)["speed"] == 100
    assert control(client, "speed", value=None)["speed"] is None
    assert control(client, "play")["playing"] is True
    assert control(client, "pause")["playing"] is False


def test_a_setting_changes_and_the_weights_stay(api):
    client, session = api
    before, step = session.state, session.step
    rate = session.config.optim.generator_learning_rate
    reply = client.post("/api/settings", json={"generator_learning_rate": 0.02 if rate != 0.02 else 0.025})
    assert reply.status_code == 200 and reply.json() == session.status()
    assert reply.json()["message"] == f"generator_learning_rate changed; training goes on from step {step:,}"
    assert_trees_equal(session.state.generator, before.generator)
    reply = client.post("/api/settings", json={"generator_learning_rate": rate})
    assert reply.status_code == 200


def test_reset_starts_again_with_the_seed_given_or_a_new_one(api):
    client, session = api
    control(client, "step")
    seed = 5 if session.config.train.seed != 5 else 6
    status = control(client, "reset", seed=seed)
    assert (status["step"], status["settings"]["seed"]) == (0, seed)
    assert status["message"] == f"started again with seed {seed}"
    status = control(client, "reset")
    drawn = int(re.fullmatch(r"started again with seed (\d+)", status["message"]).group(1))
    assert status["settings"]["seed"] == drawn and 0 <= drawn < 2**31 and status["step"] == 0


def test_save_without_a_run_is_a_conflict(api):
    client, _ = api
    assert assert_refused(client.post("/api/control", json={"action": "save"}), 409) == SAVE_WITHOUT_RUN


# ---------------------------------------------------------------- the WebSocket


def test_the_socket_sends_the_scene_then_a_frame(api):
    client, session = api
    with client.websocket_connect("/api/live") as page:
        scene, frame = read_until(page, lambda message: message["type"] == "frame")
    assert set(scene) == SCENE_KEYS and scene["type"] == "scene"
    assert scene["dim"] == 1 and scene["columns"] == COLUMNS and scene["metrics"] == COLUMNS[3:]
    assert scene["view"] == [list(session.view[0])]
    assert len(scene["real"]["x"]) == len(scene["real"]["density"]) > 10
    assert scene["history"] == payload.numbers_rows(session.history.rows)
    status = session.status()
    assert {name: scene["status"][name] for name in ("settings", "step", "dim", "run", "attached", "playing")} == {
        name: status[name] for name in ("settings", "step", "dim", "run", "attached", "playing")}
    assert scene["version"] == session.published.version
    assert set(frame) == FRAME_KEYS
    assert (frame["version"], frame["step"], frame["rows"]) == (scene["version"], session.step, [])
    assert 100 < len(frame["decision"]["x"]) == len(frame["decision"]["y"]) <= payload.LINE_POINTS + 1
    assert all(0 <= y <= 1 for y in frame["decision"]["y"])
    assert len(frame["generated"]["x"]) == len(frame["generated"]["density"])
    assert 0 <= frame["generated"]["outside"] <= 1


def test_playing_streams_frames_with_every_new_row_at_a_bounded_rate(api):
    client, session = api
    with client.websocket_connect("/api/live") as page:
        scene, first = read_until(page, lambda message: message["type"] == "frame")
        start = first["step"]
        page.send_text('{"action": "play"}')  # the page never writes; what it sends is ignored
        control(client, "speed", value=150)
        control(client, "play")
        began = time.monotonic()
        messages = read_until(page, lambda message: message.get("step", 0) >= start + 150)
        seconds = time.monotonic() - began
        control(client, "pause")
    assert {message["type"] for message in messages} == {"frame"}
    steps = [message["step"] for message in messages]
    assert steps == sorted(steps) and steps[-1] >= start + 150
    assert len(messages) <= FRAME_RATE * seconds + 3, (len(messages), seconds)
    rows = scene["history"] + [row for message in messages for row in message["rows"]]
    assert [row[0] for row in rows] == list(range(0, 10 * len(rows), 10))  # every log point once, in order
    assert rows == payload.numbers_rows(session.history.rows)[: len(rows)]
    assert len(rows) >= (start + 150) // 10
    control(client, "speed", value=None)


def test_several_pages_watch_one_session_and_one_closing_leaves_it_playing(api):
    client, session = api

    def frame_past(page, step):
        return read_until(page, lambda message: message["type"] == "frame" and message["step"] > step)[-1]["step"]

    with client.websocket_connect("/api/live") as first, client.websocket_connect("/api/live") as second:
        with client.websocket_connect("/api/live") as third:
            start = session.step
            control(client, "speed", value=100)
            control(client, "play")
            seen = [frame_past(page, start) for page in (first, second, third)]
        assert client.get("/api/session").json()["playing"] is True
        later = [frame_past(page, max(seen)) for page in (first, second)]
        assert min(later) > max(seen)
        control(client, "pause")
    control(client, "speed", value=None)


# ---------------------------------------------------------------- uploads


@pytest.fixture(scope="module")
def uploading(tmp_path_factory):
    """A session of its own for uploads (they change its target), and the folder they are kept in."""
    session = Session(tinygan.config_from_preset("seed", num_steps=50, pretrain_steps=0))
    uploads = tmp_path_factory.mktemp("uploads")
    try:
        with make_client(session, uploads) as client:
            yield client, session, uploads
    finally:
        session.close()


def csv(values: np.ndarray, header: str) -> bytes:
    return (header + "\n" + "\n".join(",".join(f"{v:.6f}" for v in row) for row in values) + "\n").encode()


def upload(client: TestClient, data, content_type: str | None = "text/csv"):
    headers = {} if content_type is None else {"content-type": content_type}
    return client.post("/api/upload", content=data, headers=headers)


def test_a_one_column_upload_is_trained_on(uploading):
    client, session, uploads = uploading
    data = csv(np.random.default_rng(1).normal(4, 0.5, (300, 1)), "x")
    reply = upload(client, data, "text/csv; charset=utf-8")
    assert reply.status_code == 200, reply.text
    status = reply.json()
    assert status["settings"]["target"] == "upload" and status["dim"] == 1 and status["step"] == 0
    assert status["message"] == "started again with the new settings" and status["error"] is None
    kept = [path for path in uploads.iterdir() if path.read_bytes() == data]
    assert len(kept) == 1 and re.fullmatch(r"upload-[0-9a-f]{16}\.csv", kept[0].name)
    assert session.config.data.target == f"file:{kept[0]}"
    with client.websocket_connect("/api/live") as page:
        scene = page.receive_json()
    assert scene["dim"] == 1 and scene["columns"] == [*COLUMNS, "floor_ratio", "classifier", "memorised"]


def test_a_two_column_upload_is_drawn_in_two_dimensions(uploading):
    client, _, _ = uploading
    angles = np.random.default_rng(2).uniform(0, 2 * np.pi, 400)
    reply = upload(client, csv(np.stack([np.cos(angles), np.sin(angles)], axis=1), "a,b"))
    assert reply.status_code == 200, reply.text
    assert reply.json()["dim"] == 2 and reply.json()["settings"]["target"] == "upload"
    with client.websocket_connect("/api/live") as page:
        scene, frame = read_until(page, lambda message: message["type"] == "frame")
    assert set(scene) == SCENE_KEYS and scene["dim"] == 2 and len(scene["view"]) == 2
    assert all(len(point) == 2 for point in scene["real"]["points"])
    assert set(frame) == FRAME_KEYS_2D
    side = frame["heatmap"]["side"]
    assert side > 10 and len(base64.b64decode(frame["heatmap"]["values"])) == side * side
    assert frame["arrows"] and all(len(arrow) == 4 for arrow in frame["arrows"])  # x, y, dx, dy
    assert all(len(point) == 2 for point in frame["generated"]["points"])
    assert 0 <= frame["generated"]["outside"] <= 1


BAD_UPLOADS = [
    (b"x\n1\n2\nabc\n", "text/csv", 400, "data.target: the uploaded file line 4, column 0 ('x'): 'abc' is not a number"),
    ("".join(f"{i},{i % 7},{i % 5}\n" for i in range(30)).encode(), "text/csv", 400,
     "the live view draws 1-D and 2-D targets; this one has 3 columns"),
    (b"1,2\n3,4\n5,6\n", "text/csv", 400, "data.target: the uploaded file has 3 rows; the data preset needs at least 20"),
    (b"x\n5\n5\n5\n", "text/csv", 400, "data.target: column 'x' of the uploaded file holds a single value"),
    (b"\xff\xfe1\n2\n", "text/csv", 400, "data.target: the uploaded file line 1 is not UTF-8 text"),
    (b"", "text/csv", 400, "upload: the file is empty"),
    (b" \n\n \n", "text/csv", 400, "upload: the file is empty"),
    (b"1\n" * (MAX_UPLOAD_BYTES // 2) + b"3", "text/csv", 413, "upload: the file is 1,048,577 bytes; at most 1,048,576"),
    (iter([b"1\n" * 2**16] * 9), "text/csv", 413, "upload: the file is over 1,048,576 bytes"),  # no length given
    (b"1\n2\n", "image/png", 415, "upload: send the file's bytes as text/csv, not image/png"),
    (b"1\n2\n", "application/json", 415, "upload: send the file's bytes as text/csv, not application/json"),
    (b"1\n2\n", None, 415, "upload: send the file's bytes as text/csv, not nothing"),
]


@pytest.mark.parametrize("data, content_type, status, message", BAD_UPLOADS,
                         ids=["not-a-number", "3-columns", "3-rows", "one-value", "not-utf8", "empty", "blank", "over-1MiB",
                              "streamed-over-1MiB", "png", "json", "no-type"])
def test_a_bad_upload_is_refused_and_not_kept(uploading, data, content_type, status, message):
    client, session, uploads = uploading
    kept, settings, step = sorted(uploads.iterdir()), session.status()["settings"], session.step
    error = assert_refused(upload(client, data, content_type), status)
    assert error.startswith(message)
    assert str(uploads) not in error and "upload-" not in error  # never the server's path
    assert sorted(uploads.iterdir()) == kept
    assert session.status()["settings"] == settings and session.step == step


def test_a_refused_upload_leaves_a_playing_session_playing(uploading):
    client, _, _ = uploading
    control(client, "speed", value=20)
    control(client, "play")
    try:
        assert_refused(upload(client, BAD_UPLOADS[1][0]), 400)  # 3 columns
        assert client.get("/api/session").json()["playing"] is True
    finally:
        control(client, "pause")
        control(client, "speed", value=None)


# ---------------------------------------------------------------- downloads


def test_the_config_downloads_as_toml(api):
    client, session = api
    reply = client.get("/api/download/config")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("application/toml")
    assert reply.headers["content-disposition"] == 'attachment; filename="tinygan-config.toml"'
    assert reply.text == config_toml(session.snapshot().config)
    assert tomllib.loads(reply.text)["preset"] == "seed"


def test_samples_download_as_csv(api):
    client, session = api
    reply = client.get("/api/download/samples", params={"n": "5", "seed": "3"})
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    assert reply.headers["content-disposition"] == 'attachment; filename="tinygan-samples.csv"'
    assert reply.text == runs.samples_csv(session.sample(5, 3))
    lines = client.get("/api/download/samples").text.splitlines()  # defaults: 1,000 samples, seed 0
    assert lines[0] == "x" and len(lines) == 1_001
    assert lines == runs.samples_csv(session.sample(1_000, 0)).splitlines()


def test_the_checkpoint_downloads_as_a_file_tinygan_resume_takes(api, tmp_path):
    client, session = api
    control(client, "reset", seed=1234 if session.config.train.seed != 1234 else 1235)
    for _ in range(10):
        control(client, "step")
    reply = client.get("/api/download/checkpoint")
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/octet-stream"
    assert reply.headers["content-disposition"] == 'attachment; filename="tinygan-seed-step-000000010.npz"'
    path = tmp_path / "live.npz"
    path.write_bytes(reply.content)
    loaded, segments = checkpoints.load(path)
    snapshot = session.snapshot()
    assert loaded.config == snapshot.config and (loaded.step, loaded.status) == (10, "running")
    assert_trees_equal(loaded.state, session.state)
    np.testing.assert_array_equal(jax.random.key_data(loaded.keys), jax.random.key_data(snapshot.keys))
    assert list(loaded.history["step"]) == [0] and list(loaded.history) == COLUMNS
    # What `tinygan resume FILE` checks before it goes on (test_live_session runs it on the same encoding).
    assert segments == []
    runner.refuse_ended(path, loaded, {})


# ---------------------------------------------------------------- bad requests


def chunks(size: int):
    """A body of `size` bytes sent without a length (chunked), as a client that lies about nothing might."""
    yield from [b" " * 1024] * (size // 1024)


DEEP = 5_000  # brackets: well past Python's recursion limit, within the 16 KiB body limit
BAD_REQUESTS = [
    # (method, path, request arguments, status)
    ("POST", "/api/settings", {"content": b"not json"}, 400),
    ("POST", "/api/control", {"content": b"{'action': 'play'}"}, 400),
    ("POST", "/api/control", {"content": b"\xff\xfe\x00"}, 400),
    ("POST", "/api/settings", {"content": b""}, 400),
    ("POST", "/api/settings", {"content": b"[1, 2]"}, 400),
    ("POST", "/api/settings", {"content": b'"objective"'}, 400),
    ("POST", "/api/settings", {"content": b"12"}, 400),
    ("POST", "/api/settings", {"content": b"null"}, 400),
    ("POST", "/api/control", {"content": b'["play"]'}, 400),
    ("POST", "/api/control", {"content": b'"play"'}, 400),
    ("POST", "/api/control", {"content": b"7"}, 400),
    ("POST", "/api/control", {"content": b"NaN"}, 400),
    ("POST", "/api/settings", {"content": b'{"generator_learning_rate": NaN}'}, 400),
    ("POST", "/api/settings", {"content": b'{"discriminator_learning_rate": -Infinity}'}, 400),
    ("POST", "/api/settings", {"content": b'{"generator_learning_rate": 1e309}'}, 400),
    ("POST", "/api/settings", {"content": b'{"batch_size": 1180591620717411303424}'}, 400),  # 2**70
    ("POST", "/api/settings", {"content": b'{"seed": 1180591620717411303424}'}, 400),
    ("POST", "/api/settings", {"content": b'{"seed": 1' + b"0" * 5_000 + b"}"}, 400),  # past int's digit limit
    ("POST", "/api/settings", {"content": b"[" * DEEP + b"]" * DEEP}, 400),
    ("POST", "/api/control", {"content": b'{"a":' * 2_500 + b"1" + b"}" * 2_500}, 400),
    ("POST", "/api/settings", {"content": b'{"objective": ' + b"[" * DEEP + b"]" * DEEP + b"}"}, 400),
    ("POST", "/api/control", {"content": b'{"action": ' + b"[" * DEEP + b"]" * DEEP + b"}"}, 400),
    ("POST", "/api/control", {"content": b'{"action": "reset", "seed": ' + b"[" * 900 + b"]" * 900 + b"}"}, 400),
    ("POST", "/api/settings", {"content": b'{"objective": ' + b"[" * 900 + b"]" * 900 + b"}"}, 400),
    ("POST", "/api/settings", {"json": {"objective": "minimax", "colour": "red"}}, 400),
    ("POST", "/api/settings", {"json": {"batch_size": "12"}}, 400),
    ("POST", "/api/settings", {"json": {"batch_size": 12.5}}, 400),
    ("POST", "/api/settings", {"json": {"r1": True}}, 400),
    ("POST", "/api/settings", {"json": {"batch_size": 5_000}}, 400),
    ("POST", "/api/settings", {"json": {"objective": "wasserstein", "label_smoothing": 0.1}}, 400),
    ("POST", "/api/settings", {"json": {"preset": "../../etc"}}, 400),
    ("POST", "/api/settings", {"json": {"target": "upload"}}, 400),
    ("POST", "/api/settings", {"json": {"target": "file:/etc/passwd"}}, 400),
    ("POST", "/api/settings", {"json": {"target": "file:pyproject.toml"}}, 400),
    ("POST", "/api/settings", {"json": {}}, 400),
    ("POST", "/api/control", {"json": {}}, 400),
    ("POST", "/api/control", {"json": {"action": "fly"}}, 400),
    ("POST", "/api/control", {"json": {"action": ["play"]}}, 400),
    ("POST", "/api/control", {"json": {"action": "play", "speed": 3}}, 400),
    ("POST", "/api/control", {"json": {"action": "step", "times": 1_000_000}}, 400),
    ("POST", "/api/control", {"json": {"action": "speed", "value": 0}}, 400),
    ("POST", "/api/control", {"json": {"action": "speed", "value": "fast"}}, 400),
    ("POST", "/api/control", {"json": {"action": "speed", "value": 2**70}}, 400),
    ("POST", "/api/control", {"content": b'{"action": "speed", "value": 1e309}'}, 400),
    ("POST", "/api/control", {"content": b'{"action": "speed", "value": NaN}'}, 400),
    ("POST", "/api/control", {"json": {"action": "reset", "seed": -1}}, 400),
    ("POST", "/api/control", {"json": {"action": "reset", "seed": "42"}}, 400),
    ("POST", "/api/control", {"json": {"action": "reset", "seed": 2**32}}, 400),
    ("POST", "/api/control", {"content": b'{"action": "reset", "seed": 1e309}'}, 400),
    ("POST", "/api/settings", {"content": b" " * (MAX_JSON_BYTES + 1)}, 413),
    ("POST", "/api/control", {"content": b'{"action": "play", "x": "' + b"a" * MAX_JSON_BYTES + b'"}'}, 413),
    ("POST", "/api/settings", {"content": chunks(MAX_JSON_BYTES + 1024)}, 413),
    ("POST", "/api/upload", {"content": b"1\n2\n", "headers": {"content-type": "multipart/form-data"}}, 415),
    ("GET", "/api/download/samples", {"params": {"n": "1e3"}}, 400),
    ("GET", "/api/download/samples", {"params": {"n": "abc"}}, 400),
    ("GET", "/api/download/samples", {"params": {"n": "99999999999999999999"}}, 400),
    ("GET", "/api/download/samples", {"params": {"n": "0"}}, 400),
    ("GET", "/api/download/samples", {"params": {"n": "100001"}}, 400),
    ("GET", "/api/download/samples", {"params": {"n": "-5"}}, 400),
    ("GET", "/api/download/samples", {"params": {"n": "\uff15"}}, 400),  # a fullwidth digit 5
    ("GET", "/api/download/samples", {"params": {"n": ""}}, 400),
    ("GET", "/api/download/samples", {"params": {"seed": "4294967296"}}, 400),
    ("GET", "/api/download/samples", {"params": {"seed": "1.5"}}, 400),
]


def sent(path: str, arguments: dict) -> dict:
    """A bad request's arguments as sent: a fresh generator for a streamed body, and raw bodies to the JSON
    endpoints labelled application/json (else they are refused for that, 415, before their content is read)."""
    arguments = dict(arguments)
    if "content" in arguments and not isinstance(arguments["content"], bytes):
        arguments["content"] = chunks(MAX_JSON_BYTES + 1024)
    if "content" in arguments and path != "/api/upload":
        arguments.setdefault("headers", {"content-type": "application/json"})
    return arguments


@pytest.mark.parametrize("method, path, arguments, status", BAD_REQUESTS, ids=[str(i) for i in range(len(BAD_REQUESTS))])
def test_a_bad_request_is_a_4xx_with_one_line(api, method, path, arguments, status):
    client, session = api
    before = session.status()
    error = assert_refused(client.request(method, path, **sent(path, arguments)), status)
    assert not error.startswith("internal error") and str(Path(tinygan.__file__).parent) not in error
    after = session.status()
    assert after["settings"] == before["settings"] and after["step"] == before["step"]


TRAVERSALS = ["/static/../../pyproject.toml", "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
              "/static/..%2f..%2f..%2f..%2fpyproject.toml", "/static/%2e%2e/session.py",
              "/static/%2e%2e%2fsession.py", "/static//etc/passwd", "/static/%00app.js"]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_path_leaves_the_static_folder(api, path):
    client, _ = api
    reply = client.get(path)
    assert 400 <= reply.status_code < 500
    assert b"[project]" not in reply.content and b"class Session" not in reply.content
    assert b"root:" not in reply.content


@pytest.mark.parametrize("method, path", [("GET", "/static/%2e%2e/%2e%2e/pyproject.toml"), ("GET", "/api/nothing"),
                                          ("GET", "/api/settings"), ("DELETE", "/api/session")])
def test_unknown_paths_and_methods_answer_json_too(api, method, path):
    client, _ = api
    reply = client.request(method, path)
    assert 400 <= reply.status_code < 500
    assert_refused(reply, reply.status_code)


def test_the_server_survives_every_bad_request_and_plays_on(api):
    client, session = api
    for method, path, arguments, status in BAD_REQUESTS:
        assert client.request(method, path, **sent(path, arguments)).status_code == status, (method, path)
    for path in TRAVERSALS:
        assert client.get(path).status_code == 404, path
    assert client.get("/api/session").status_code == 200
    step = session.step
    control(client, "speed", value=100)
    control(client, "play")
    wait_until(lambda: session.step >= step + 5, seconds=30)
    assert client.get("/api/session").json()["playing"] is True
    control(client, "pause")
    control(client, "speed", value=None)


# ---------------------------------------------------------------- a run folder (tinygan serve --run)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A finished 40-iteration run: what `tinygan serve --run` continues (each test works on a copy)."""
    folder = tmp_path_factory.mktemp("run") / "R"
    assert cli.main(["train", "--num-steps", "40", "--out", str(folder), "--no-plots", "--quiet"]) == 0
    return folder


def copy_run(trained_run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained_run, tmp_path / "R"))


def checkpoint_names(folder: Path) -> list[str]:
    return [path.name for path in checkpoints.checkpoints(folder)]


def test_a_run_folder_plays_on_and_is_saved_back_for_tinygan_resume(trained_run, tmp_path):
    folder = copy_run(trained_run, tmp_path)
    link, snapshot = server.LinkedRun.open(folder)
    session = Session(snapshot.config, snapshot=snapshot, run=str(folder))
    try:
        client = make_client(session, tmp_path / "uploads", save=lambda: link.save(session))
        status = client.get("/api/session").json()
        assert (status["run"], status["attached"], status["step"], status["num_steps"]) == (str(folder), True, 40, 40)
        assert [row[0] for row in session.history.rows] == [0, 10, 20, 30, 40]
        status = control(client, "play")  # at the run's end: on for as long again
        assert status["message"] == "playing on to 80 iterations" and status["num_steps"] == 80
        wait_until(lambda: not session.playing)
        assert session.step == 80 and session.attached and session.error is None
        assert control(client, "save")["step"] == 80
        assert checkpoint_names(folder) == ["step-000000040.npz", "step-000000080.npz"]
        saved, _ = checkpoints.load(checkpoints.latest(folder))
        assert_trees_equal(saved.state, session.state)
        assert [int(step) for step in saved.history["step"]] == list(range(0, 81, 10))  # the last row at the limit
        written = runs.read_json(folder / runs.STATUS_FILE)
        assert (written["status"], written["step"], written["num_steps"]) == ("stopped", 80, 80)
        assert written["checkpoint"] == "checkpoints/step-000000080.npz"
        assert runs.read_json(folder / "config.json")["train"]["num_steps"] == 80
    finally:
        session.close()
    assert cli.main(["resume", str(folder), "--num-steps", "120", "--quiet"]) == 0
    resumed, _ = checkpoints.load(checkpoints.latest(folder))
    assert resumed.step == 120 and resumed.status == "finished"
    assert [int(step) for step in resumed.history["step"]] == list(range(0, 121, 10))


@pytest.fixture(scope="module")
def detached_save(trained_run, tmp_path_factory):
    """A run opened, a setting changed, then save asked for: the folder, its files before, and the reply."""
    folder = copy_run(trained_run, tmp_path_factory.mktemp("detached"))
    link, snapshot = server.LinkedRun.open(folder)
    session = Session(snapshot.config, snapshot=snapshot, run=str(folder))
    try:
        client = make_client(session, folder.parent / "uploads", save=lambda: link.save(session))
        status = client.post("/api/settings", json={"objective": "minimax"}).json()
        assert (status["run"], status["attached"]) == (str(folder), False)
        control(client, "step_d")
        before = {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}
        reply = client.post("/api/control", json={"action": "save"})
        return folder, before, reply
    finally:
        session.close()


def test_a_changed_setting_detaches_the_session_and_save_writes_nothing(detached_save):
    folder, before, reply = detached_save
    assert reply.status_code >= 400 and "save: the settings changed since" in reply.json()["error"]
    assert {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()} == before


def test_a_detached_save_is_refused_as_a_bad_request(detached_save):
    _, _, reply = detached_save
    error = assert_refused(reply, 409)
    assert error.startswith("save: the settings changed since")


def rewrite_latest(folder: Path, **changes) -> None:
    """The run's latest checkpoint written again with `changes` to its Snapshot (say, how the run ended)."""
    path = checkpoints.latest(folder)
    snapshot, segments = checkpoints.load(path, with_frames=False)
    path.write_bytes(checkpoints.encode(dataclasses.replace(snapshot, **changes), segments))


@pytest.mark.parametrize("ended, message", [
    ("diverged", ("{folder}: diverged (after step 40); resuming would diverge again (train it again with "
                  "--nan-policy skip, or a smaller learning rate)")),
    ("stopped", "{folder}: its stopping rule ended it at step 40; nothing to resume"),
])
def test_a_run_that_cannot_go_on_is_refused(trained_run, tmp_path, capsys, ended, message):
    folder = copy_run(trained_run, tmp_path)
    rewrite_latest(folder, status=ended)
    with pytest.raises(runs.RunError) as raised:
        server.LinkedRun.open(folder)
    assert str(raised.value) == message.format(folder=folder)
    assert cli.main(["serve", "--run", str(folder), "--port", "0"]) == cli.EXIT_USAGE
    assert capsys.readouterr().err == f"tinygan: error: {message.format(folder=folder)}\n"


def test_a_run_another_process_trains_is_refused(trained_run, tmp_path, capsys):
    folder = copy_run(trained_run, tmp_path)
    with runs.run_lock(folder):
        assert cli.main(["serve", "--run", str(folder), "--port", "0"]) == cli.EXIT_USAGE
    assert capsys.readouterr().err == f"tinygan: error: {folder}: another process is training this run\n"
    assert cli.main(["serve", "--run", str(folder), "--preset", "ring"]) == cli.EXIT_USAGE
    assert capsys.readouterr().err == "tinygan: error: --preset: a run folder (--run) brings its own settings\n"
    assert cli.main(["serve", "--run", str(folder), "--num-steps", "9", "--device", "cpu"]) == cli.EXIT_USAGE
    assert capsys.readouterr().err == ("tinygan: error: --num-steps, --device: a run folder (--run) brings its own "
                                       "settings\n")
    assert cli.main(["serve", "--run", str(tmp_path / "nowhere")]) == cli.EXIT_USAGE
    assert capsys.readouterr().err == f"tinygan: error: {tmp_path / 'nowhere'}: no such run folder\n"


# ---------------------------------------------------------------- the command


class Served:
    """`tinygan serve ...` running in `cwd`: its address once it prints it, its output lines as they come."""

    def __init__(self, command: list[str], cwd: Path):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self.stdout, self.stderr = queue.Queue(), queue.Queue()
        self._readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                         for stream, lines in ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr))]
        for reader in self._readers:
            reader.start()
        self.announced = None
        waited_until = time.monotonic() + 120
        while self.announced is None and self.process.poll() is None and time.monotonic() < waited_until:
            with contextlib.suppress(queue.Empty):
                self.announced = self.stdout.get(timeout=0.1)
        if self.announced is None:
            self.close()
            raise AssertionError(f"no address printed; stderr: {self.lines(self.stderr)}")
        match = re.fullmatch(r"tinygan live view: http://(\S+):(\d+)/(\?token=[\w-]+)? \(Ctrl-C stops\)\n",
                             self.announced)
        assert match, self.announced
        self.port, self.token = int(match.group(2)), match.group(3) or ""  # beyond loopback: "?token=..."
        self.url = f"http://127.0.0.1:{self.port}/"

    @staticmethod
    def _read(stream, lines: queue.Queue) -> None:
        for line in stream:
            lines.put(line)

    @staticmethod
    def lines(lines: queue.Queue) -> list[str]:
        found = []
        while not lines.empty():
            found.append(lines.get_nowait().rstrip("\n"))
        return found

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path + self.token, timeout=30) as reply:
            return json.loads(reply.read())

    def post(self, path: str, body: dict) -> dict:
        request = urllib.request.Request(self.url + path + self.token, data=json.dumps(body).encode(), method="POST",
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.loads(reply.read())

    def interrupt(self) -> tuple[int, float]:
        """Ctrl-C: the exit code and the seconds it took to exit."""
        start = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=60)
        for reader in self._readers:
            reader.join(timeout=10)
        return code, time.monotonic() - start

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.process.stdout.close()
        self.process.stderr.close()


@contextlib.contextmanager
def served(command: list[str], cwd: Path):
    serving = Served(command, cwd)
    try:
        yield serving
    finally:
        serving.close()


def test_serve_warns_off_loopback_answers_and_stops_on_ctrl_c_with_a_page_open(tinygan_command, tmp_path):
    with served([*tinygan_command, "serve", "--host", "0.0.0.0", "--port", "0"], tmp_path) as serving:
        assert serving.announced.startswith("tinygan live view: http://0.0.0.0:")
        assert serving.stderr.get(timeout=10) == ("tinygan: warning: serving on 0.0.0.0, beyond this machine: whoever "
                                                  "has the address below (with its token) can steer training and "
                                                  "read uploaded data\n")
        assert serving.token.startswith("?token=") and len(serving.token) > 30
        status = serving.get("api/session")
        assert (status["step"], status["num_steps"], status["settings"]["preset"]) == (0, 1200, "seed")
        with pytest.raises(urllib.error.HTTPError) as refused:  # without the token: 403
            urllib.request.urlopen(serving.url + "api/session", timeout=30)
        assert refused.value.code == 403
        refused.value.close()  # the refusal's own response, left open by urllib
        with connect(f"ws://127.0.0.1:{serving.port}/api/live{serving.token}", open_timeout=30) as page:
            assert json.loads(page.recv(timeout=30))["type"] == "scene"
            serving.post("api/control", {"action": "speed", "value": 200})
            serving.post("api/control", {"action": "play"})
            with deadline(30):
                while json.loads(page.recv(timeout=30)).get("step", 0) < 10:
                    pass
            code, seconds = serving.interrupt()
            with pytest.raises(ConnectionClosed):  # the server closed the page's socket as it stopped
                while True:
                    page.recv(timeout=10)
        assert code == 0 and seconds < 10
        assert Served.lines(serving.stdout) == ["stopped"]
        assert Served.lines(serving.stderr) == []
    assert not (tmp_path / "runs").exists()  # nothing written where it ran


def test_serve_refuses_a_port_out_of_range(capsys):
    assert cli.main(["serve", "--port", "70000"]) == cli.EXIT_USAGE
    assert capsys.readouterr().err == "tinygan: error: --port must be in [0, 65535], got 70000\n"
    assert cli.main(["serve", "--port", "-1"]) == cli.EXIT_USAGE
    assert capsys.readouterr().err == "tinygan: error: --port must be in [0, 65535], got -1\n"


def serve_on_a_port_in_use(tmp_path: Path, monkeypatch) -> tuple[int, int, list[warnings.WarningMessage]]:
    """`tinygan serve` on a port another socket listens on: its port, exit code and the warnings it left."""
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings(record=True) as caught, socket.socket() as taken:
        warnings.simplefilter("always")
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = cli.main(["serve", "--port", str(port)])
        gc.collect()
    return port, code, caught


def test_serve_refuses_a_port_in_use(tmp_path, monkeypatch, capsys):
    port, code, _ = serve_on_a_port_in_use(tmp_path, monkeypatch)
    assert code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert re.fullmatch(rf"tinygan: error: cannot listen on 127\.0\.0\.1:{port}: [^\n]+\n", err), err
    assert list(tmp_path.iterdir()) == []


def test_serve_on_a_port_in_use_leaves_no_socket_open(tmp_path, monkeypatch):
    _, _, caught = serve_on_a_port_in_use(tmp_path, monkeypatch)
    assert [str(warning.message) for warning in caught if issubclass(warning.category, ResourceWarning)] == []


def test_serve_run_saves_the_session_into_the_run_on_ctrl_c(tinygan_command, trained_run, tmp_path):
    folder = copy_run(trained_run, tmp_path)
    with served([*tinygan_command, "serve", "--run", str(folder), "--port", "0"], tmp_path) as serving:
        assert runs.is_locked(folder)  # held as tinygan resume holds it
        status = serving.get("api/session")
        assert (status["run"], status["attached"], status["step"]) == (str(folder), True, 40)
        serving.post("api/control", {"action": "play"})

        def trained_on() -> bool:
            status = serving.get("api/session")
            return not status["playing"] and status["step"] == 80

        wait_until(trained_on)
        code, _ = serving.interrupt()
        assert code == 0
        saved = folder / checkpoints.FOLDER / "step-000000080.npz"
        assert Served.lines(serving.stdout) == ["stopped", f"saved {folder} at step 80: {saved}"]
    assert checkpoints.latest(folder) == saved and checkpoints.load(saved)[0].step == 80
    assert runs.read_json(folder / runs.STATUS_FILE)["status"] == "stopped"
    assert not runs.is_locked(folder) and not (folder / runs.LOCK_FILE).exists()
