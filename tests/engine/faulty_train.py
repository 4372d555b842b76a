"""``python faulty_train.py FAULT RECIPE``: ``srdistill train RECIPE``, killed (SIGKILL) at a chosen moment.

FAULT is one of
  none          train normally;
  row:E         die right after epoch E's metrics row is written, before the snapshot that follows;
  snapshot:N    die half-way through writing the N-th snapshot's training state.
The kill-and-resume tests use this to die where a timed signal could rarely land.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def install(fault: str) -> None:
    kind, _, arg = fault.partition(":")
    if kind == "row":
        from srdistill.engine.runs import RunDir

        log_epoch = RunDir.log_epoch

        def log_then_die(self: RunDir, row: dict[str, Any]) -> None:
            log_epoch(self, row)
            if row["epoch"] == int(arg):
                die()

        RunDir.log_epoch = log_then_die  # type: ignore[method-assign]
    elif kind == "snapshot":  # training writes nothing else with torch.save
        import torch

        calls = {"n": 0}
        save = torch.save

        def save_half_then_die(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
            calls["n"] += 1
            if calls["n"] < int(arg):
                return save(obj, f, *args, **kwargs)
            import io

            buffer = io.BytesIO()
            save(obj, buffer)
            data = buffer.getvalue()
            f.write(data[: len(data) // 2])
            f.flush()
            die()

        torch.save = save_half_then_die
    elif kind != "none":
        raise SystemExit(f"unknown fault {fault!r}")


if __name__ == "__main__":
    install(sys.argv[1])
    from srdistill.cli import main

    sys.argv = ["srdistill", "train", sys.argv[2]]
    main()
