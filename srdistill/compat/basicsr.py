"""Import basicsr's RRDBNet, its PSNR/SSIM and its MATLAB imresize with a current torchvision.

basicsr 1.4.2 imports ``torchvision.transforms.functional_tensor``, a module torchvision removed
in 0.17. Its only use there is ``rgb_to_grayscale``, which ``torchvision.transforms.functional``
still provides, so that module is registered under the old name before basicsr is imported.
Importing basicsr costs about a second (it pulls in OpenCV and scikit-image), so call
:func:`rrdbnet_class` only when an RRDB network is actually built.
"""

from __future__ import annotations

import sys
from typing import Any

_OLD_NAME = "torchvision.transforms.functional_tensor"


def install_torchvision_shim() -> None:
    """Make ``torchvision.transforms.functional_tensor`` importable again."""
    if _OLD_NAME in sys.modules:
        return
    try:
        __import__(_OLD_NAME)
    except ModuleNotFoundError:
        import torchvision.transforms.functional as functional

        sys.modules[_OLD_NAME] = functional


def rrdbnet_class() -> Any:
    """basicsr's ``RRDBNet`` class (ESRGAN's generator)."""
    install_torchvision_shim()
    from basicsr.archs.rrdbnet_arch import RRDBNet

    return RRDBNet


def psnr_ssim() -> Any:
    """basicsr's ``metrics.psnr_ssim`` module (the SR literature's PSNR and SSIM)."""
    install_torchvision_shim()
    from basicsr.metrics import psnr_ssim as module

    return module


def matlab_functions() -> Any:
    """basicsr's ``utils.matlab_functions`` module (MATLAB's imresize kernel)."""
    install_torchvision_shim()
    from basicsr.utils import matlab_functions as module

    return module
