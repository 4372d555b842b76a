"""SIGTERM and SIGINT ask training to stop at the next step, after a snapshot."""

from __future__ import annotations

import signal
from types import FrameType, TracebackType
from typing import Any


class StopRequests:
    """While active, the first SIGTERM/SIGINT only sets :attr:`requested`; a second SIGINT
    interrupts at once (KeyboardInterrupt), as usual."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.requested: str | None = None
        self.signal_number = 0
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name
        self.signal_number = signum

    def __enter__(self) -> StopRequests:
        try:
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self._previous.clear()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
