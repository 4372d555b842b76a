"""Pretrained weights by name, from the caches their ecosystems already use, through their own libraries.

* Teachers: ``hf-hub:<org>/<repo>[@revision]`` (and a timm model's own pretrained weights) come
  from the Hugging Face cache (:mod:`srdistill.hf_hub`).
* Students: the RRDB releases of :data:`RELEASES` come from torch's hub cache
  (``torch.hub.get_dir()/checkpoints``, moved by ``TORCH_HOME``) under the name torch.hub gives
  them (the last part of the URL), downloaded by ``torch.hub.download_url_to_file`` with the
  release's SHA-256 when missing, and checked against it every time they are used.

A file that cannot be had is an error that says which ``srdistill weights fetch`` to run on a
machine with internet, and where the file goes.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from srdistill.errors import UserError
from srdistill.registry import did_you_mean


@dataclass(frozen=True)
class Release:
    """A published RRDB weights file."""

    name: str
    url: str
    #: SHA-256 of the file: all 64 hex digits, or the prefix its publisher gives (see ``note``)
    sha256: str
    note: str

    @property
    def filename(self) -> str:
        """Its name in torch's hub cache: the URL's last part, as ``torch.hub.load_state_dict_from_url`` saves it."""
        return os.path.basename(urlparse(self.url).path)


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
            "official ESRGAN (Wang et al. 2018): the generator of the ESRGAN paper, in its repo's key layout",
        ),
        Release(
            "ESRGAN_SRx4_DF2KOST_official",
            "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.1/ESRGAN_SRx4_DF2KOST_official-ff704c30.pth",
            # No public source of the full hash was found. BasicSR names its files with the first
            # 8 hex digits of their SHA-256 (torch.hub's check_hash convention): that prefix is checked.
            "ff704c30",
            "BasicSR's ESRGAN (the same network in BasicSR's key layout); SHA-256 prefix only",
        ),
        Release(
            "RealESRGAN_x4plus",
            "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.0/RealESRGAN_x4plus.pth",
            "4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1",
            "Real-ESRGAN x4+ (GAN), trained on second-order synthetic degradations",
        ),
        Release(
            "RealESRNet_x4plus",
            "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.1/RealESRNet_x4plus.pth",
            "a820b9bde89a874d7599d545567308ce6c128fc8754a53208eda016d40aa81df",
            "Real-ESRNet x4+ (L1 only, before the GAN stage)",
        ),
    )
}


# -- places ---------------------------------------------------------------------------------------------------


def checkpoints_dir() -> Path:
    """torch's hub cache for weight files (``$TORCH_HOME/hub/checkpoints`` by default)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


# -- names in recipes ----------------------------------------------------------------------------------------


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


def verify(path: Path, expected: str, what: str, fix: str) -> None:
    """A :class:`UserError` unless ``path``'s SHA-256 starts with ``expected`` (a full hash or a prefix).

    torch.hub checks a hash only when it downloads; a cached copy is checked here, on every use.
    """
    found = sha256_of(path)
    if not found.startswith(expected):
        more = "…" if len(expected) < 64 else ""
        raise UserError(f"{path} is not {what}: its SHA-256 is {found}, not {expected}{more}.", fix)


def release(name: str) -> Release:
    try:
        return RELEASES[name]
    except KeyError:
        raise UserError(
            f"No weights release '{name}'.{did_you_mean(name, list(RELEASES))}",
            f"Use one of: {', '.join(RELEASES)}, or a hf-hub:<org>/<repo> name (`srdistill weights list`).",
        ) from None


def cached_state(rel: Release) -> str:
    """``yes``, ``no``, or ``damaged`` (a file under the release's name with another SHA-256)."""
    path = checkpoints_dir() / rel.filename
    if not path.is_file():
        return "no"
    return "yes" if sha256_of(path).startswith(rel.sha256) else "damaged"


def release_file(name: str) -> Path:
    """The verified file of release ``name`` in torch's hub cache, downloaded first if missing.

    A cached file with the wrong hash is an error naming it; a download with the wrong hash is
    not kept (torch.hub's ``hash_prefix`` check) and reported.
    """
    import torch.hub

    rel = release(name)
    dst = checkpoints_dir() / rel.filename
    copy = f"copy {rel.filename} to {dst.parent}/ here (TORCH_HOME moves that folder)"
    if dst.is_file():
        fix = f"Delete it and run `srdistill weights fetch {rel.name}` (a partial or altered copy gives this)."
        verify(dst, rel.sha256, f"the {rel.name} release", fix)
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:  # a temporary file beside dst, renamed only once its hash is right, removed on any failure
        torch.hub.download_url_to_file(rel.url, str(dst), hash_prefix=rel.sha256, progress=sys.stderr.isatty())
    except RuntimeError as e:
        if "invalid hash value" not in str(e):
            raise
        raise UserError(
            f"The download of {rel.url} is not the {rel.name} release: {e}.",
            f"Nothing was kept in {dst.parent}. Retry later, or check that the URL still serves this release "
            "(a proxy's error page gives this).",
        ) from None
    except Exception as e:  # any network or HTTP failure
        raise UserError(
            f"Could not download {rel.name} from {rel.url}: {type(e).__name__}: {e}",
            f"Check the connection. Without internet: run `srdistill weights fetch {rel.name}` on a machine "
            f"with it and {copy}, or name the file itself in the recipe.",
        ) from None
    return dst


def resolve_student(weights: Path | str) -> Path:
    """A recipe's ``student.weights`` as a local file: a release name is looked up (and fetched)."""
    return release_file(weights) if isinstance(weights, str) else weights


# -- ahead of time -------------------------------------------------------------------------------------------------


def fetch(name: str) -> Path:
    """Put ``name`` (a release or ``hf-hub:`` repo) in its cache now; the path of the weights file."""
    from srdistill.hf_hub import hf_file, is_hf_ref

    if is_hf_ref(name):
        path = hf_file(name, "weights fetch")
        hf_file(name, "weights fetch", ("config.json",), required=False)  # preprocessing, when the repo has it
        assert path is not None
        return path
    return release_file(name)
