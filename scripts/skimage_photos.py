"""Write scikit-image's bundled sample images as two photo folders, for trying the colour recipes.

    .venv/bin/python scripts/skimage_photos.py data/skimage      # → data/skimage/{train,test}/*.png

``train/``: 15 images (five in colour, ten greyscale ones saved as RGB); ``test/``: the four colour
photos astronaut, chelsea, coffee and rocket (0.91 megapixels), never in ``train/``. Everything
comes with scikit-image itself: nothing is downloaded. Existing files are left as they are.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

TRAIN = ("hubble_deep_field", "immunohistochemistry", "retina", "colorwheel", "logo", "brick", "camera", "clock",
         "coins", "grass", "gravel", "moon", "page", "text", "microaneurysms")  # fmt: skip
TEST = ("astronaut", "chelsea", "coffee", "rocket")


def rgb(image: np.ndarray) -> Image.Image:
    if image.ndim == 2:
        return Image.fromarray(image).convert("RGB")
    return Image.fromarray(image[..., :3])  # logo has an alpha channel


def write(folder: Path, names: tuple[str, ...]) -> None:
    """``folder/<name>.png`` for each sample image named, as RGB; existing files are kept."""
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = folder / f"{name}.png"
        if not path.exists():
            rgb(getattr(data, name)()).save(path)


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    root = Path(sys.argv[1])
    write(root / "train", TRAIN)
    write(root / "test", TEST)
    print(f"wrote {len(TRAIN)} training and {len(TEST)} test images under {root}")


if __name__ == "__main__":
    main()
