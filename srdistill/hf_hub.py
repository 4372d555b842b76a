"""Teacher weights from the Hugging Face hub, through huggingface_hub and its cache.

The cache is huggingface_hub's own (``HF_HUB_CACHE``, ``HF_HOME``, the legacy
``HUGGINGFACE_HUB_CACHE``), and so is the offline switch: with ``HF_HUB_OFFLINE=1`` only the cache
is read. A file that cannot be had is an error that says which ``srdistill weights fetch`` to run
on a machine with internet, and which folder to copy where.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from srdistill.errors import UserError

HF_PREFIX = "hf-hub:"
_HF_REF = re.compile(r"^hf-hub:(?P<repo>[\w.\-]+/[\w.\-]+)(@(?P<revision>[\w.\-/]+))?$")
#: weight files looked for in a Hugging Face repo, safest first (timm's own order)
HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def offline() -> bool:
    """huggingface_hub's offline switch (``HF_HUB_OFFLINE``); it concerns the Hugging Face hub only."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, as huggingface_hub resolves it."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def is_hf_ref(value: object) -> bool:
    return isinstance(value, str) and value.startswith(HF_PREFIX)


def check_hf_ref(value: str) -> str:
    """``value`` if it is a well-formed ``hf-hub:<org>/<repo>[@revision]``, else a ``ValueError``."""
    if not _HF_REF.match(value):
        raise ValueError(f"'{value}' is not of the form hf-hub:<org>/<repo> (e.g. hf-hub:timm/resnet50.tv_in1k)")
    return value


def _hf_download(repo_id: str, filename: str, revision: str | None, local_only: bool) -> str:
    """``hf_hub_download`` into huggingface_hub's own cache (tests replace this for the online path)."""
    from huggingface_hub import hf_hub_download

    return hf_hub_download(repo_id, filename, revision=revision, local_files_only=local_only)  # type: ignore[return-value]


class _OneRetryLine(logging.Filter):
    """Turns huggingface_hub's per-attempt retry warnings (about 10 lines over 25 s) into one line."""

    said = False

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "Retrying in" not in message and "thrown while requesting" not in message:
            return True
        if not self.said:
            self.said = True
            print("huggingface.co does not answer; huggingface_hub retries for about 25 s "
                  "(HF_HUB_OFFLINE=1 skips this on a machine without internet).", file=sys.stderr)  # fmt: skip
        return False


@contextmanager
def _quiet_retries() -> Iterator[None]:
    logger, one_line = logging.getLogger("huggingface_hub.utils._http"), _OneRetryLine()
    logger.addFilter(one_line)
    try:
        yield
    finally:
        logger.removeFilter(one_line)


def hf_file(ref: str, what: str, filenames: tuple[str, ...] = HF_WEIGHT_FILES, required: bool = True) -> Path | None:
    """The first of ``filenames`` in repo ``ref`` (``hf-hub:org/repo[@rev]``), cached or downloaded.

    Offline, only the cache is read; a missing file is a :class:`UserError` (or ``None`` when not
    ``required``). When the hub cannot be reached, the other file names are not tried.
    """
    try:
        from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError
    except ImportError:
        raise UserError(
            f"{what}: {ref} needs huggingface_hub, which is not installed.",
            "pip install 'srdistill[hub]' (or name a local weights file instead).",
        ) from None

    match = _HF_REF.match(ref)
    if match is None:
        raise UserError(
            f"{what}: '{ref}' is not of the form hf-hub:<org>/<repo>.", "E.g. hf-hub:timm/resnet50.tv_in1k."
        )
    repo, revision = match["repo"], match["revision"]
    local_only, unreachable = offline(), False
    problems = []
    with _quiet_retries():
        for filename in filenames:
            try:
                return Path(_hf_download(repo, filename, revision, local_only))
            except LocalEntryNotFoundError:  # not cached, and offline or the hub out of reach
                problems.append(f"{filename}: not cached")
                unreachable = not local_only
                if unreachable:
                    break
            except EntryNotFoundError:
                problems.append(f"{filename}: not in the repo")
            except Exception as e:  # authentication, unknown repo
                problems.append(f"{filename}: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e) else ''}")
    if not required:
        return None
    cache = hf_cache_dir()
    folder = f"models--{repo.replace('/', '--')}"
    fix = (f"On a machine with internet run `srdistill weights fetch {ref}` and copy its "
           f"{cache}/{folder} folder into {cache}/ here (HF_HOME moves that folder).")  # fmt: skip
    if local_only:
        raise UserError(
            f"{what}: {ref} is not in the Hugging Face cache ({cache}) and HF_HUB_OFFLINE forbids downloading it.", fix
        )
    if unreachable:
        raise UserError(
            f"{what}: {ref} is not in the Hugging Face cache ({cache}) and huggingface.co could not be reached.",
            f"Check the connection. Without internet: set HF_HUB_OFFLINE=1. {fix}",
        )
    raise UserError(
        f"{what}: no weights from {ref} ({'; '.join(problems)}).",
        "Check the repo name on huggingface.co, the connection, and HF_TOKEN for gated repos.",
    )


def timm_hub_ref(model: str) -> str:
    """``hf-hub:<id>`` of a timm model name's pretrained weights (the tag in the name picks them)."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(model)
    hub_id = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if not hub_id:
        raise UserError(
            f"timm has no pretrained weights on the Hugging Face hub for '{model}'.",
            "Name a tagged model with weights (e.g. resnet50.tv_in1k; see timm.list_pretrained()), "
            "or set teacher.weights to a file.",
        )
    return HF_PREFIX + hub_id


def hf_pretrained_cfg(ref: str) -> dict[str, Any]:
    """The ``pretrained_cfg`` of the repo's ``config.json`` (timm's export), if cached or fetchable."""
    import json

    path = hf_file(ref, "config", ("config.json",), required=False)
    if path is None:
        return {}
    try:
        cfg = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    pretrained = cfg.get("pretrained_cfg", cfg) if isinstance(cfg, dict) else {}
    return pretrained if isinstance(pretrained, dict) else {}


def cached_hf_repos() -> list[str]:
    """``hf-hub:`` names of the model repos in the Hugging Face cache (huggingface_hub's ``scan_cache_dir``)."""
    from huggingface_hub import scan_cache_dir

    if not hf_cache_dir().is_dir():
        return []
    found = scan_cache_dir()
    return sorted(HF_PREFIX + repo.repo_id for repo in found.repos if repo.repo_type == "model")
