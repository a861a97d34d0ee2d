"""The live view's web app (Starlette): the page, HTTP endpoints for controls and downloads, a WebSocket for frames.

Data flows one way: the page sends controls by HTTP POST and reads frames from the WebSocket, which it never
writes to. Every value from the page is checked (`settings.py`, `Session`); a bad one is a 4xx reply with
{"error": "one line"}, which the page shows, and never stops the server. No path from the page is ever
opened: an upload is kept under a name the server makes from its checksum. Every body is bounded.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from tinygan import runs
from tinygan.config import ConfigError
from tinygan.config.toml import config_toml
from tinygan.engine.resolve import resolved
from tinygan.live import payload
from tinygan.live.session import FRAME_RATE, SPEEDS, Session
from tinygan.live.settings import SettingsError, one_line, options
from tinygan.runs import checkpoints
from tinygan.runs.folder import RunError

STATIC = Path(__file__).parent / "static"
MAX_JSON_BYTES = 16 * 2**10  # a control or a change of settings is a few dozen bytes
MAX_UPLOAD_BYTES = 2**20  # an uploaded CSV: some 50,000 rows of two numbers
MAX_DOWNLOAD_SAMPLES = 100_000
UPLOAD_TYPES = ("text/csv", "text/plain", "application/octet-stream", "application/vnd.ms-excel")
log = logging.getLogger("tinygan.live")


class RequestError(Exception):
    """A request the server refuses: its HTTP status and one line for the page."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def create_app(session: Session, *, uploads: Path, save=None) -> Starlette:
    """The app serving `session`; uploads are kept in `uploads`; `save()` saves the session into the run it
    continues (`tinygan serve --run`), None when it continues none."""

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def get_options(request: Request) -> Response:
        return JSONResponse({**options(), "speeds": list(SPEEDS), "max_upload_bytes": MAX_UPLOAD_BYTES})

    async def get_session(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(session.status))

    async def post_settings(request: Request) -> Response:
        changes = await _json_body(request)
        await run_in_threadpool(session.change, changes)
        return JSONResponse(await run_in_threadpool(session.status))

    async def post_control(request: Request) -> Response:
        body = await _json_body(request)
        action = body.get("action") if isinstance(body, dict) else None
        controls = {
            "play": ((), session.play),
            "pause": ((), session.pause),
            "step": ((), lambda: session.step_once("step")),
            "step_d": ((), lambda: session.step_once("d")),
            "step_g": ((), lambda: session.step_once("g")),
            "reset": (("seed",), lambda: session.reset(body.get("seed"))),
            "speed": (("value",), lambda: session.set_speed(body.get("value"))),
            "slow_motion": (("value",), lambda: session.set_slow_motion(body.get("value"))),
            "save": ((), lambda: _save(session, save)),
        }
        if not isinstance(action, str) or action not in controls:
            raise RequestError(400, f"control: expected {{\"action\": one of {', '.join(controls)}}}, got "
                                    f"{json.dumps(body)[:80]}")
        allowed, control = controls[action]
        extra = set(body) - {"action", *allowed}
        if extra:
            raise RequestError(400, f"control {action}: unknown field {min(extra)[:40]!r}")
        await run_in_threadpool(control)
        return JSONResponse(await run_in_threadpool(session.status))

    async def post_upload(request: Request) -> Response:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in UPLOAD_TYPES:
            raise RequestError(415, f"upload: send the file's bytes as text/csv, not {kind[:60] or 'nothing'}")
        data = await _body(request, MAX_UPLOAD_BYTES, "upload: the file")
        if not data.strip():
            raise RequestError(400, "upload: the file is empty")
        path = uploads / f"upload-{hashlib.sha256(data).hexdigest()[:16]}.csv"
        await run_in_threadpool(_use_upload, session, path, data)
        return JSONResponse(await run_in_threadpool(session.status))

    async def download_config(request: Request) -> Response:
        config = resolved(session.config)  # a frozen config, replaced whole by the session: read as it stands
        return _attachment(config_toml(config).encode(), "tinygan-config.toml", "application/toml")

    async def download_samples(request: Request) -> Response:
        n = _query_int(request, "n", 1_000, 1, MAX_DOWNLOAD_SAMPLES)
        seed = _query_int(request, "seed", 0, 0, 2**32 - 1)
        samples = await run_in_threadpool(session.sample, n, seed)
        names = runs.column_names(session.game.target)
        return _attachment(runs.samples_csv(samples, names).encode(), "tinygan-samples.csv", "text/csv")

    async def download_checkpoint(request: Request) -> Response:
        snapshot = await run_in_threadpool(session.snapshot)
        data = await run_in_threadpool(checkpoints.encode, snapshot, [])
        name = f"tinygan-{snapshot.config.preset}-{checkpoints.checkpoint_name(snapshot.step)}"
        return _attachment(data, name, "application/octet-stream")

    async def live(websocket: WebSocket) -> None:
        await websocket.accept()
        await _stream(websocket, session)

    routes = [
        Route("/", page),
        Route("/api/options", get_options),
        Route("/api/session", get_session),
        Route("/api/settings", post_settings, methods=["POST"]),
        Route("/api/control", post_control, methods=["POST"]),
        Route("/api/upload", post_upload, methods=["POST"]),
        Route("/api/download/config", download_config),
        Route("/api/download/samples", download_samples),
        Route("/api/download/checkpoint", download_checkpoint),
        WebSocketRoute("/api/live", live),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    handlers = {RequestError: _refused, SettingsError: _refused, ConfigError: _refused, RunError: _refused,
                HTTPException: _refused, Exception: _failed}
    return Starlette(routes=routes, exception_handlers=handlers)


async def _stream(websocket: WebSocket, session: Session) -> None:
    """Send the scene, then the latest frame at most FRAME_RATE times a second with the history rows the page
    lacks, until the page goes; a new scene after every reset. The page never writes: a read waits for it to go."""
    gone = asyncio.Event()

    async def watch() -> None:
        try:
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass  # the page has nothing to say here: controls come by HTTP
        finally:
            gone.set()

    watcher = asyncio.create_task(watch())
    version = frame_id = None
    sent = 0
    try:
        while not gone.is_set():
            published = session.published
            if published.version != version:
                rows = list(published.rows)
                scene = {**published.scene, "version": published.version,
                         "history": payload.numbers_rows(payload.thinned_rows(rows, payload.HISTORY_ROWS)),
                         "status": json.loads(published.frame)["status"]}
                await websocket.send_text(json.dumps(scene))
                version, frame_id, sent = published.version, None, len(rows)
            if published.frame_id != frame_id:
                rows = published.rows[sent:]
                sent += len(rows)
                await websocket.send_text(f'{{"rows": {json.dumps(payload.numbers_rows(rows))}, {published.frame[1:]}')
                frame_id = published.frame_id
            try:
                await asyncio.wait_for(gone.wait(), timeout=1 / FRAME_RATE)
            except TimeoutError:
                pass
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the page went while a frame was on its way
    finally:
        watcher.cancel()


def _use_upload(session: Session, path: Path, data: bytes) -> None:
    """Keep the upload under the server's own name and train on it; a file that fails is not kept."""
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not existed:
            runs.write_atomic(path, data)
    except (OSError, runs.RunError) as error:
        raise RequestError(500, f"upload: cannot keep the file on the server ({error})") from None
    try:
        session.use_upload(str(path))
    except (SettingsError, ConfigError) as error:
        if not existed:
            path.unlink(missing_ok=True)
        named = str(error).replace(f"file:{path}", "the uploaded file")
        raise SettingsError(named.replace(str(path), "the uploaded file")) from None


def _save(session: Session, save) -> None:
    if save is None:
        raise RequestError(409, "save: this session continues no run folder (start it with tinygan serve --run RUN)")
    save()


async def _body(request: Request, limit: int, what: str) -> bytes:
    """The request's body, refused (413) past `limit` bytes before more is read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"{what} is {int(declared):,} bytes; at most {limit:,}")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise RequestError(413, f"{what} is over {limit:,} bytes")
    return bytes(data)


async def _json_body(request: Request):
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":  # a cross-site form can send text/plain without asking first; never JSON
        raise RequestError(415, f"send settings and controls as application/json, not {kind[:60] or 'nothing'}")
    data = await _body(request, MAX_JSON_BYTES, "the request")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise RequestError(400, f"the request is not JSON: {one_line(error, 120)}") from None


def _query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 12 and low <= int(text) <= high):
        raise RequestError(400, f"{name}: a whole number from {low:,} to {high:,}, got {text[:40]!r}")
    return int(text)


def _attachment(data: bytes, name: str, media_type: str) -> Response:
    return Response(data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def _refused(request: Request, error: Exception) -> Response:
    """A refused request as {"error": one line}: a bad value (400), an unknown path or method (Starlette's
    status), or what the run folder refuses, such as saving a detached session (409)."""
    if isinstance(error, HTTPException):
        status, text = error.status_code, error.detail
    else:
        status, text = getattr(error, "status", 409 if isinstance(error, RunError) else 400), str(error)
    return JSONResponse({"error": one_line(text, 500)}, status_code=status)


async def _failed(request: Request, error: Exception) -> Response:
    """A bug, not a bad request: logged with its traceback, answered in one line; the server goes on."""
    log.exception("live view: %s %s failed", request.method, request.url.path)
    return JSONResponse({"error": f"internal error: {one_line(error)}"}, status_code=500)
