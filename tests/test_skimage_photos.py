"""scripts/skimage_photos.py: the photo folders the README's colour walkthrough trains and compares on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def test_writes_rgb_training_and_held_out_test_photos_and_keeps_existing_files(tmp_path: Path) -> None:
    script = [sys.executable, str(ROOT / "scripts" / "skimage_photos.py"), str(tmp_path / "photos")]
    subprocess.run(script, check=True, capture_output=True, timeout=300)
    train = sorted((tmp_path / "photos" / "train").glob("*.png"))
    test = sorted((tmp_path / "photos" / "test").glob("*.png"))
    assert len(train) == 15 and [p.stem for p in test] == ["astronaut", "chelsea", "coffee", "rocket"]
    assert not {p.stem for p in train} & {p.stem for p in test}
    for path in [*train, *test]:
        with Image.open(path) as image:
            assert image.mode == "RGB", path
    megapixels = sum(Image.open(p).size[0] * Image.open(p).size[1] for p in test) / 1e6
    assert abs(megapixels - 0.911) < 0.001
    (tmp_path / "photos" / "test" / "rocket.png").write_bytes(b"mine")
    subprocess.run(script, check=True, capture_output=True, timeout=300)
    assert (tmp_path / "photos" / "test" / "rocket.png").read_bytes() == b"mine"
