"""Pretrained weights by name, from the caches their ecosystems already use.

* Teachers: ``hf-hub:<org>/<repo>[@revision]`` (and a timm model's own pretrained weights) come
  from the Hugging Face cache (``HF_HOME``, ``HF_HUB_CACHE``), downloaded into it when missing.
* Students: the RRDB releases of :data:`RELEASES` come from torch's hub cache
  (``torch.hub.get_dir()/checkpoints``, moved by ``TORCH_HOME``), downloaded when missing and
  checked against their SHA-256 every time they are used.

``HF_HUB_OFFLINE=1`` turns every download off: a file that is not cached is then an error that
says which ``srdistill weights fetch`` to run on a machine with internet, and where the file goes.
Both cache locations and the offline switch are read on each call, not at import.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srdistill.errors import UserError
from srdistill.registry import did_you_mean

HF_PREFIX = "hf-hub:"
_HF_REF = re.compile(r"^hf-hub:(?P<repo>[\w.\-]+/[\w.\-]+)(@(?P<revision>[\w.\-/]+))?$")
#: weight files looked for in a Hugging Face repo, safest first (timm's own order)
HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class Release:
    """A published RRDB weights file."""

    name: str
    url: str
    #: SHA-256 of the file: all 64 hex digits, or the prefix its publisher gives (see ``note``)
    sha256: str
    #: the file name in torch's hub cache
    filename: str
    note: str


# Hashes come from public sources (noted per entry); none was computed here, as these files cannot
# be downloaded where this table was written.
RELEASES: dict[str, Release] = {
    r.name: r
    for r in (
        Release(
            "RRDB_ESRGAN_x4",
            # The ESRGAN authors host it on Google Drive only; KAIR's v1.0 release carries the same file.
            "https://github.com/cszn/KAIR/releases/download/v1.0/ESRGAN.pth",
            "65fece06e1ccb48853242aa972bdf00ad07a7dd8938d2dcbdf4221b59f6372ce",
            "RRDB_ESRGAN_x4.pth",
            "official ESRGAN (Wang et al. 2018): the generator of the ESRGAN paper, in its repo's key layout",
        ),
        Release(
            "ESRGAN_SRx4_DF2KOST_official",
            "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.1/ESRGAN_SRx4_DF2KOST_official-ff704c30.pth",
            # No public source of the full hash was found. BasicSR names its files with the first
            # 8 hex digits of their SHA-256 (torch.hub's check_hash convention): that prefix is checked.
            "ff704c30",
            "ESRGAN_SRx4_DF2KOST_official-ff704c30.pth",
            "BasicSR's ESRGAN (the same network in BasicSR's key layout); SHA-256 prefix only",
        ),
        Release(
            "RealESRGAN_x4plus",
            "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.0/RealESRGAN_x4plus.pth",
            "4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1",
            "RealESRGAN_x4plus.pth",
            "Real-ESRGAN x4+ (GAN), trained on second-order synthetic degradations",
        ),
        Release(
            "RealESRNet_x4plus",
            "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.1/RealESRNet_x4plus.pth",
            "a820b9bde89a874d7599d545567308ce6c128fc8754a53208eda016d40aa81df",
            "RealESRNet_x4plus.pth",
            "Real-ESRNet x4+ (L1 only, before the GAN stage)",
        ),
    )
}


# -- switches and places --------------------------------------------------------------------------------


def offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set to a true value."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"}


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, resolved as huggingface_hub does, from the environment of now."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(xdg) / "huggingface" / "hub"


def checkpoints_dir() -> Path:
    """torch's hub cache for weight files (``$TORCH_HOME/hub/checkpoints`` by default)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


# -- names in recipes ----------------------------------------------------------------------------------------


def is_hf_ref(value: object) -> bool:
    return isinstance(value, str) and value.startswith(HF_PREFIX)


def check_hf_ref(value: str) -> str:
    """``value`` if it is a well-formed ``hf-hub:<org>/<repo>[@revision]``, else a ``ValueError``."""
    if not _HF_REF.match(value):
        raise ValueError(f"'{value}' is not of the form hf-hub:<org>/<repo> (e.g. hf-hub:timm/resnet50.tv_in1k)")
    return value


def student_weights(value: Any) -> Any:
    """A recipe's ``student.weights``: a release name stays a name, anything else is a path.

    For pydantic ``mode="before"`` validators. A bare word close to a release name (no folder, no
    suffix) is rejected with the names, since it is almost surely a misspelt name.
    """
    if not isinstance(value, str) or value in RELEASES:
        return value
    path = Path(value)
    hint = did_you_mean(value, list(RELEASES))
    if hint and not path.suffix and len(path.parts) == 1 and not path.exists():
        raise ValueError(f"'{value}' is neither a file nor a release name.{hint} Releases: {', '.join(RELEASES)}")
    return path


# -- student releases ------------------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_hash(path: Path, release: Release, shown: str, fix: str) -> None:
    found = sha256_of(path)
    if not found.startswith(release.sha256):
        more = "…" if len(release.sha256) < 64 else ""
        raise UserError(
            f"{shown} is not the {release.name} release: its SHA-256 is {found}, the release's is "
            f"{release.sha256}{more}.",
            fix,
        )


def release(name: str) -> Release:
    try:
        return RELEASES[name]
    except KeyError:
        raise UserError(
            f"No weights release '{name}'.{did_you_mean(name, list(RELEASES))}",
            f"Use one of: {', '.join(RELEASES)}, or a hf-hub:<org>/<repo> name (`srdistill weights list`).",
        ) from None


def _download(url: str, dst: Path) -> None:
    """Download ``url`` to ``dst`` (tests replace this; nothing else here touches the network)."""
    import sys

    import torch.hub

    torch.hub.download_url_to_file(url, str(dst), progress=sys.stderr.isatty())


def release_file(name: str, *, download: bool | None = None) -> Path:
    """The verified file of release ``name`` in torch's hub cache, downloaded first if missing.

    ``download=None`` downloads unless :func:`offline`. A cached file with the wrong hash is an
    error naming it; a download with the wrong hash is deleted and reported.
    """
    rel = release(name)
    dst = checkpoints_dir() / rel.filename
    if dst.is_file():
        fix = f"Delete {dst} and run `srdistill weights fetch {rel.name}` (a partial or altered copy gives this)."
        _check_hash(dst, rel, str(dst), fix)
        return dst
    if download is False or (download is None and offline()):
        raise UserError(
            f"{rel.name} is not in torch's hub cache ({dst}) and HF_HUB_OFFLINE forbids downloading it.",
            f"On a machine with internet run `srdistill weights fetch {rel.name}` and copy {rel.filename} to "
            f"{dst.parent}/ here (TORCH_HOME moves that folder), or name the file itself in the recipe.",
        )
    dst.parent.mkdir(parents=True, exist_ok=True)
    part = dst.with_name(f".{dst.name}.{os.getpid()}.part")
    try:
        try:
            _download(rel.url, part)
        except Exception as e:  # any network or HTTP failure
            raise UserError(
                f"Could not download {rel.name} from {rel.url}: {type(e).__name__}: {e}",
                f"Check the connection, or download it by hand to {dst}.",
            ) from None
        _check_hash(
            part,
            rel,
            f"The download of {rel.url}",
            f"Nothing was kept in {dst.parent}. Retry later, or "
            "check that the URL still serves this release (a proxy's error page gives this).",
        )
        os.replace(part, dst)  # only a verified file ever gets the cache name
    finally:
        part.unlink(missing_ok=True)
    return dst


def resolve_student(weights: Path | str) -> Path:
    """A recipe's ``student.weights`` as a local file: a release name is looked up (and fetched)."""
    return release_file(weights) if isinstance(weights, str) else weights


# -- Hugging Face hub ------------------------------------------------------------------------------------------


def _hf_download(repo_id: str, filename: str, revision: str | None, local_only: bool) -> str:
    """``hf_hub_download`` into :func:`hf_cache_dir` (tests replace this for the online path)."""
    from huggingface_hub import hf_hub_download

    return hf_hub_download(repo_id, filename, revision=revision, cache_dir=hf_cache_dir(), local_files_only=local_only)  # type: ignore[return-value]


def hf_file(ref: str, what: str, filenames: tuple[str, ...] = HF_WEIGHT_FILES, required: bool = True) -> Path | None:
    """The first of ``filenames`` in repo ``ref`` (``hf-hub:org/repo[@rev]``), cached or downloaded.

    Offline, only the cache is read; a missing file is a :class:`UserError` (or ``None`` when not
    ``required``).
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
    local_only = offline()
    problems = []
    for filename in filenames:
        try:
            return Path(_hf_download(repo, filename, revision, local_only))
        except LocalEntryNotFoundError:
            problems.append(f"{filename}: not cached")
        except EntryNotFoundError:
            problems.append(f"{filename}: not in the repo")
        except Exception as e:  # network, authentication, unknown repo
            problems.append(f"{filename}: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e) else ''}")
    if not required:
        return None
    cache = hf_cache_dir()
    if local_only:
        raise UserError(
            f"{what}: {ref} is not in the Hugging Face cache ({cache}) and HF_HUB_OFFLINE forbids downloading it.",
            f"On a machine with internet run `srdistill weights fetch {ref}` and copy its "
            f"{cache}/models--{repo.replace('/', '--')} folder into {cache}/ here (HF_HOME moves that folder).",
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


# -- ahead of time -------------------------------------------------------------------------------------------------


def fetch(name: str) -> Path:
    """Put ``name`` (a release or ``hf-hub:`` repo) in its cache now; the path of the weights file."""
    if is_hf_ref(name):
        path = hf_file(name, "weights fetch")
        hf_file(name, "weights fetch", ("config.json",), required=False)  # preprocessing, when the repo has it
        assert path is not None
        return path
    return release_file(name, download=None)


def cached_hf_repos() -> list[str]:
    """``hf-hub:`` names of the model repos in the Hugging Face cache."""
    cache = hf_cache_dir()
    if not cache.is_dir():
        return []
    names = [p.name.removeprefix("models--").replace("--", "/", 1) for p in cache.glob("models--*") if p.is_dir()]
    return [HF_PREFIX + n for n in sorted(names)]
