"""`tinygan serve`: the live view's web server on one address, and the run folder it may continue.

The server listens on loopback unless told otherwise (and warns then: anyone who reaches the port steers
training and reads the data). Ctrl-C stops it cleanly: open pages are closed, the training thread stops and
a session that continues a run (`--run RUN`) is saved into it, so `tinygan resume RUN` goes on from there.
While it serves, it holds the run's lock as `tinygan resume` does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import signal
import socket
import sys
from pathlib import Path

from tinygan import runs
from tinygan.config import Config
from tinygan.engine.resolve import config_from_preset
from tinygan.live.session import Session
from tinygan.runs import checkpoints
from tinygan.runs.folder import RunError
from tinygan.runs.launch import RunOptions, refuse_ended

UPLOADS = Path("runs") / "uploads"  # where uploaded data files are kept, under names made from their checksums


@dataclasses.dataclass
class LinkedRun:
    """The run folder a session continues, and how to save the session back into it."""

    folder: Path
    segments: list[dict]  # the run's frames files, which its checkpoints keep listing
    options: RunOptions
    started: str
    saved_step: int

    @classmethod
    def open(cls, folder: str | Path):
        """The run at `folder` and its latest checkpoint's Snapshot; RunError or CheckpointError in one line for
        a run that cannot go on (diverged, ended by its stopping rule, no checkpoint)."""
        folder = runs.check_run(folder)
        status = runs.read_json(folder / runs.STATUS_FILE) if (folder / runs.STATUS_FILE).exists() else {}
        snapshot, segments = checkpoints.load(checkpoints.latest(folder), with_frames=False)
        refuse_ended(folder, snapshot, status)
        options = RunOptions.of_run(folder, status)
        return cls(folder, segments, options, status.get("started", runs.now()), snapshot.step), snapshot

    def save(self, session: Session) -> Path:
        """The session as the run's newest checkpoint, status.json saying stopped: `tinygan resume` goes on."""
        if not session.attached:
            raise RunError(f"save: the settings changed since {self.folder} was opened: the session is no longer "
                           "that run (download its checkpoint instead)")
        snapshot = session.snapshot()
        written = runs.read_json(self.folder / "config.json")
        if written.get("train", {}).get("num_steps") != snapshot.config.train.num_steps:  # played past its end
            runs.write_atomic(self.folder / "config.json", runs.to_json(snapshot.config.to_dict()))
        path = checkpoints.Checkpointer(self.folder, self.options.keep_checkpoints, self.segments)(snapshot)
        runs.write_status(self.folder, "stopped", step=snapshot.step, num_steps=snapshot.config.train.num_steps,
                          started=self.started, options=dataclasses.asdict(self.options),
                          checkpoint=str(path.relative_to(self.folder)))
        self.saved_step = snapshot.step
        return path


class _Stop(Exception):
    pass


@contextlib.contextmanager
def _signals_as_stop():
    """SIGINT and SIGTERM as an exception ended here: after uvicorn's own clean stop, the process still saves
    the session instead of dying in the signal's default action."""

    def stop(signum, frame):
        raise _Stop

    previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except _Stop:
        pass
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free one); RunError in one line when that fails."""
    sock = None
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(info[0], socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(info[4])
        sock.listen(128)
    except OSError as error:
        if sock is not None:
            sock.close()
        raise RunError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return sock


def serve(host: str = "127.0.0.1", port: int = 8000, *, run: str | None = None, config: Config | None = None,
          uploads: Path = UPLOADS, announce=print) -> None:
    """Serve the live view until Ctrl-C (or SIGTERM): a new session of `config` (the seed preset by default), or
    one continuing the run folder `run`. `announce(line)` hears the address and what happens."""
    import uvicorn

    from tinygan.live.app import create_app
    from tinygan.live.guard import LOOPBACK_NAMES, Guard, new_token

    with contextlib.ExitStack() as stack:
        sock = listen(host, port)  # first: a port in use is said at once, not after seconds of compiling
        stack.callback(sock.close)
        link = None
        if run is not None:
            folder = runs.check_run(run)
            stack.enter_context(runs.run_lock(folder))
            link, snapshot = LinkedRun.open(folder)
            session = Session(snapshot.config, snapshot=snapshot, run=str(folder))
        else:
            session = Session(config or config_from_preset("seed"))
        stack.callback(session.close)
        save = (lambda: link.save(session)) if link is not None else None
        address = sock.getsockname()
        token = None if is_loopback(host) else new_token()  # beyond loopback, Host cannot be checked: a token
        app = Guard(create_app(session, uploads=uploads.absolute(), save=save), port=address[1],
                    names=(*LOOPBACK_NAMES, host.lower()), token=token)
        shown = f"[{address[0]}]" if ":" in address[0] else address[0]
        if token is not None:
            print(f"tinygan: warning: serving on {host}, beyond this machine: whoever has the address below (with "
                  "its token) can steer training and read uploaded data", file=sys.stderr)
        announce(f"tinygan live view: http://{shown}:{address[1]}/{f'?token={token}' if token else ''} (Ctrl-C stops)")
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="auto", timeout_graceful_shutdown=3,
                                               lifespan="off"))
        with _signals_as_stop():
            server.run(sockets=[sock])  # uvicorn stops on SIGINT or SIGTERM, then raises the signal again
        session.close()
        announce("stopped")
        if link is not None and session.attached and session.step != link.saved_step:
            announce(f"saved {link.folder} at step {session.step:,}: {link.save(session)}")
