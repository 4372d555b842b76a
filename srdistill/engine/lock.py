"""One training process per run folder: an exclusive lock on ``<run>/.lock`` while a run trains.

The lock is an ``flock`` on the file, which the kernel releases when the process ends, however
it ends (SIGKILL, a crash, the machine going down). A lock file still naming a process is
therefore stale exactly when nobody holds the lock: the next run takes it over and says whose it
was. The file records who holds it, for the message a second run gets.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from srdistill.errors import UserError

LOCK_FILE = ".lock"


class RunLock:
    """Held from :meth:`acquire` to :meth:`release` (or the end of the process)."""

    def __init__(self, run_path: Path) -> None:
        self.path = run_path / LOCK_FILE
        self.fd: int | None = None
        #: who held the lock before, when the previous run was killed while holding it
        self.stale: str | None = None

    def acquire(self) -> RunLock:
        import fcntl

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise UserError(
                f"Cannot use run folder {self.path.parent}: {e.strerror}.", "Set run.dir to a writable folder."
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(_read(fd))
            os.close(fd)
            raise UserError(
                f"Run folder {self.path.parent} is in use by another training run ({holder}).",
                "Wait for it to finish or stop it, or train into another folder with --set run.dir=<folder>.",
            ) from None
        left = _read(fd)
        self.stale = _describe(left) if left else None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(_me()).encode(), 0)
        os.fsync(fd)
        self.fd = fd
        return self

    def release(self) -> None:
        """Remove the lock file and release the lock (only a killed holder leaves the file behind)."""
        if self.fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self.fd)  # closing releases the flock
        self.fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _me() -> dict[str, object]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}


def _read(fd: int) -> dict[str, object]:
    data = os.pread(fd, 4096, 0)
    try:
        found = json.loads(data) if data.strip() else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _describe(holder: dict[str, object]) -> str:
    if not holder:
        return "holder unknown"
    return f"pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('since')}"
