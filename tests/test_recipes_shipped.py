"""The recipes in recipes/: each validates, and each builds (dry run) against stand-in files."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from srdistill.checkpoints import save_weights
from srdistill.data.base import DataInfo
from srdistill.recipe import load_recipe
from tests.rrdb_layout_helpers import as_esrgan_old

RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes"
RECIPES = sorted(RECIPES_DIR.glob("*.yaml"))
DARIONET = RECIPES_DIR / "darionet_imagenet.yaml"
SMALL_RRDB = ("student.num_feat=8", "student.num_block=1", "student.num_grow_ch=4")
#: the paper's recipes on the stand-in tree (3 classes): a small student, and a batch its 3 training images fill
STAND_IN = (*SMALL_RRDB, "train.batch_size=2")


def test_the_expected_recipes_are_shipped() -> None:
    assert {p.stem for p in RECIPES} >= {
        "fmnist_teacher",
        "fmnist_pixel",
        "fmnist_darionet",
        "darionet_imagenet",
    }


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_validates(path: Path) -> None:
    recipe = load_recipe(path)
    assert recipe.name == path.stem
    if recipe.train.fit == "student":
        assert recipe.student is not None and recipe.losses


def test_darionet_recipe_is_the_papers_setup() -> None:
    recipe = load_recipe(DARIONET)
    assert recipe.degradation.factor == pytest.approx(0.32)
    assert recipe.data.hr_size == 256
    assert recipe.teacher.model == "resnet50.tv_in1k" and recipe.teacher.num_classes == 1000
    assert recipe.student.type == "rrdb" and recipe.student.num_block == 23
    # weights by name, fetched into their caches (tests/test_weights.py)
    assert recipe.teacher.weights == "hf-hub:timm/resnet50.tv_in1k" and recipe.student.weights == "RRDB_ESRGAN_x4"
    assert recipe.compare.checkpoints[0].path == "RRDB_ESRGAN_x4"
    assert [loss.type for loss in recipe.losses] == ["logit_mse"]
    assert recipe.train.monitor_for(True) == "ce_gap"


def test_darionet_teacher_preprocessing_is_torchvisions_resnet50_evaluation() -> None:
    """resnet50.tv_in1k: the preprocessing of torchvision's V1 weights, from timm's pretrained config."""
    from srdistill.teachers.timm_teacher import TimmTeacherConfig, build_timm_teacher

    teacher_cfg = load_recipe(DARIONET).teacher.model_dump()
    teacher_cfg["weights"] = None
    info = DataInfo(channels=3, num_classes=1000, hr_size=(256, 256), class_names=())
    teacher = build_timm_teacher(TimmTeacherConfig.model_validate(teacher_cfg), info)
    assert teacher.preprocessing() == {
        "input_size": [224, 224],
        "resize_size": [256, 256],
        "crop_pct": 0.875,
        "interpolation": "bilinear",
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
    }


# -- dry runs ------------------------------------------------------------------------------------------


def rrdb_state(channels: int, num_feat: int, num_block: int, num_grow_ch: int) -> dict[str, torch.Tensor]:
    from srdistill.compat.basicsr import rrdbnet_class

    net = rrdbnet_class()(channels, channels, scale=4, num_feat=num_feat, num_block=num_block, num_grow_ch=num_grow_ch)
    return net.state_dict()


@pytest.fixture(scope="module")
def resnet50_pth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init timm ResNet50 state dict, in the layout of torchvision's resnet50-0676ba61.pth."""
    import timm

    path = tmp_path_factory.mktemp("weights") / "resnet50.pth"
    torch.save(timm.create_model("resnet50", num_classes=1000).state_dict(), path)
    return path


@pytest.fixture
def fmnist_weights(tmp_path: Path) -> dict[str, Path]:
    """Stand-ins for runs/fmnist_teacher/best.safetensors and runs/fmnist_pixel/best.safetensors."""
    import timm

    teacher, student = tmp_path / "teacher.safetensors", tmp_path / "student.pth"
    save_weights(timm.create_model("test_resnet", num_classes=10, in_chans=1), teacher)
    torch.save(rrdb_state(1, 32, 2, 16), student)
    return {"teacher": teacher, "student": student}


def assert_dry_run_ok(result, run_dir: Path, *shapes: str) -> None:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    for shape in shapes:
        assert shape in result.stdout
    assert "Nothing was written" in result.stdout
    assert not run_dir.exists()


@pytest.mark.parametrize(
    "stem",
    ["fmnist_teacher", "fmnist_pixel", "fmnist_darionet", "fmnist_darionet_pixel", "fmnist_lr_finetune",
     "fmnist_lr_scratch", "fmnist_joint", "fmnist_joint_feature"],
)  # fmt: skip
def test_fmnist_recipe_dry_run(
    cli, fmnist_root: Path, fmnist_weights, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stem: str
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["train", RECIPES_DIR / f"{stem}.yaml", "--dry-run", "--set", f"data.root={fmnist_root}"]
    args += ["--set", "data.val_size=40"]
    if stem not in ("fmnist_teacher", "fmnist_lr_scratch"):
        args += ["--set", f"teacher.weights={fmnist_weights['teacher']}"]
    if stem.startswith(("fmnist_darionet", "fmnist_joint")):
        args += ["--set", f"student.weights={fmnist_weights['student']}"]
    if stem == "fmnist_darionet":  # compare's checkpoints of other runs (its own is written later)
        args += ["--set", f"compare.checkpoints.0.path={fmnist_weights['student']}"]
        args += ["--set", f"compare.checkpoints.2.path={fmnist_weights['student']}"]
    result = cli(*args)
    shapes = ["1×28×28"] if stem in ("fmnist_teacher", "fmnist_lr_finetune", "fmnist_lr_scratch") else [
        "1×28×28", "1×9×9", "1×36×36"]  # fmt: skip
    assert_dry_run_ok(result, tmp_path / "runs", *shapes)


def test_darionet_dry_run_without_files_names_every_missing_path(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flatten
) -> None:
    monkeypatch.chdir(tmp_path)
    sets = ["--set", "teacher.weights=weights/resnet50-0676ba61.pth", "--set", "student.weights=weights/esrgan.pth"]
    result = cli("train", DARIONET, "--dry-run", *sets)
    assert result.exit_code == 1
    text = flatten(result.stderr)
    assert "data.root: data/imagenet" in text
    assert "teacher.weights: weights/resnet50-0676ba61.pth" in text
    assert "student.weights: weights/esrgan.pth" in text
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_darionet_dry_run_small_student(
    cli, image_tree: Path, resnet50_pth: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The paper's recipe with a small RRDB: every code path of the real run, in seconds."""
    monkeypatch.chdir(tmp_path)
    student = tmp_path / "esrgan_small.pth"
    torch.save({"params_ema": rrdb_state(3, 8, 1, 4), "params": rrdb_state(3, 8, 1, 4)}, student)
    overrides = [
        f"data.root={image_tree}",
        f"teacher.weights={resnet50_pth}",
        f"student.weights={student}",
        f"compare.checkpoints.0.path={student}",
        *STAND_IN,
    ]
    result = cli("train", DARIONET, "--dry-run", *(a for o in overrides for a in ("--set", o)))
    assert_dry_run_ok(result, tmp_path / "runs", "3×256×256", "3×82×82", "3×328×328", "3×224×224", "1000")
    assert "25,557,032" in result.stdout  # ResNet50's parameters


def test_the_joint_paper_recipe_plans_both_updates(
    cli, image_tree: Path, resnet50_pth: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The paper's setup trained jointly: it builds on stand-in files, and its plan counts both updates and
    the classifier's training state."""
    monkeypatch.chdir(tmp_path)
    student = tmp_path / "esrgan_small.pth"
    torch.save({"params_ema": rrdb_state(3, 8, 1, 4)}, student)
    overrides = [f"data.root={image_tree}", f"teacher.weights={resnet50_pth}", f"student.weights={student}",
                 f"compare.checkpoints.0.path={student}", *STAND_IN]  # fmt: skip
    joint = RECIPES_DIR / "darionet_imagenet_joint.yaml"
    result = cli("train", joint, "--dry-run", *(a for o in overrides for a in ("--set", o)))
    assert_dry_run_ok(result, tmp_path / "runs", "3×256×256", "3×82×82", "3×224×224", "1000")
    assert "training step (classifier fwd+bwd on 3 images" in result.stdout and "state MiB" in result.stdout
    assert re.search(r"teacher +│ timm +│ 25,557,032 +│ 25,557,032", result.stdout)  # the ResNet50 is trained
    assert "fit joint" in result.stdout


def test_darionet_dry_run_with_its_named_weights_from_offline_caches(
    cli, image_tree: Path, resnet50_pth: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, weight_caches
) -> None:
    """The recipe as shipped names its weights; offline, they come from the two caches alone."""
    import hashlib

    import srdistill.weights as weights

    monkeypatch.chdir(tmp_path)
    # the teacher: timm/resnet50.tv_in1k as huggingface_hub caches it
    snapshot = weight_caches["hf"] / "models--timm--resnet50.tv_in1k" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    (snapshot / "pytorch_model.bin").write_bytes(resnet50_pth.read_bytes())
    # the student: a small RRDB under the name torch.hub gives the release, the release's hash made to match it
    release = weights.RELEASES["RRDB_ESRGAN_x4"]
    cached = weight_caches["torch"] / release.filename
    cached.parent.mkdir(parents=True)
    torch.save(rrdb_state(3, 8, 1, 4), cached)
    digest = hashlib.sha256(cached.read_bytes()).hexdigest()
    monkeypatch.setitem(weights.RELEASES, release.name, weights.Release(**{**release.__dict__, "sha256": digest}))
    result = cli(
        "train",
        DARIONET,
        "--dry-run",
        "--set",
        f"data.root={image_tree}",
        *(a for o in STAND_IN for a in ("--set", o)),
    )
    assert_dry_run_ok(result, tmp_path / "runs", "3×82×82", "3×224×224")
    assert "25,557,032" in result.stdout


@pytest.mark.slow
def test_darionet_dry_run_full_size(
    cli, image_tree: Path, resnet50_pth: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recipe as shipped, with ESRGAN-sized (16.7M parameters) basicsr weights."""
    monkeypatch.chdir(tmp_path)
    student = tmp_path / "ESRGAN_SRx4_DF2KOST_official.pth"
    torch.save({"params_ema": rrdb_state(3, 64, 23, 32)}, student)
    result = cli(
        "train", DARIONET, "--dry-run", "--set", f"data.root={image_tree}",
        "--set", f"teacher.weights={resnet50_pth}", "--set", f"student.weights={student}",
        "--set", "train.batch_size=2",  # a batch the stand-in tree's 3 training images fill
    )  # fmt: skip
    assert_dry_run_ok(result, tmp_path / "runs", "3×82×82", "3×328×328", "3×224×224")
    assert "16,697,987" in result.stdout  # ESRGAN's RRDB


def test_realesrgan_folder_dry_run(
    cli, image_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lpips_backbone
) -> None:
    """The Real-ESRGAN-degradation recipe builds on an image folder: 64 → 16 → ×4 → 64."""
    monkeypatch.chdir(tmp_path)
    student = tmp_path / "esrgan_small.pth"
    torch.save({"params_ema": rrdb_state(3, 8, 1, 4)}, student)
    overrides = [
        f"data.root={image_tree}",
        "data.hr_size=64",
        "teacher.model=test_resnet",
        "teacher.weights=null",
        "teacher.num_classes=3",
        f"student.weights={student}",
    ]
    result = cli(
        "train", RECIPES_DIR / "realesrgan_folder.yaml", "--dry-run", *(a for o in overrides for a in ("--set", o))
    )
    assert_dry_run_ok(result, tmp_path / "runs", "3×64×64", "3×16×16", "realesrgan")


def test_realesrgan_folder_keeps_real_esrnets_options() -> None:
    """Real-ESRNet's train_realesrnet_x4plus.yml: ema_decay 0.999, gt_usm true, batch 12, Adam at 2e-4."""
    from srdistill.recipe.loading import load_recipe

    recipe = load_recipe(RECIPES_DIR / "realesrgan_folder.yaml")
    assert recipe.train.ema is not None and recipe.train.ema.decay == 0.999 and not recipe.train.ema.warmup
    assert recipe.degradation.gt_usm is True  # type: ignore[attr-defined]
    assert (recipe.train.batch_size, recipe.train.optimizer.name, recipe.train.optimizer.lr) == (12, "adam", 2e-4)


# -- the ImageNet recipe, end to end on generated files ------------------------------------------------


def esrgan_old_layout_file(path: Path) -> Path:
    """A small RRDB saved as the original ESRGAN release saved its Sequential model."""
    torch.save(as_esrgan_old(rrdb_state(3, 8, 1, 32), num_block=1), path)  # ESRGAN releases grow by 32
    return path


def test_darionet_recipe_trains_and_compares_on_an_imagenet_style_tree(
    cli, image_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped ImageNet recipe, only sizes overridden: torchvision-layout teacher weights, an
    original-ESRGAN-layout student, worker processes, train then compare."""
    import json

    import torchvision

    monkeypatch.chdir(tmp_path)
    teacher = tmp_path / "resnet18-tv.pth"
    torch.save(torchvision.models.resnet18(num_classes=3).state_dict(), teacher)
    student = esrgan_old_layout_file(tmp_path / "RRDB_ESRGAN_x4_small.pth")
    overrides = [
        f"data.root={image_tree}",
        "data.hr_size=32",
        "data.train_fraction=0.5",
        "teacher.model=resnet18.tv_in1k",
        "teacher.num_classes=3",
        f"teacher.weights={teacher}",
        f"student.weights={student}",
        "student.num_feat=null",
        "student.num_block=null",
        "student.num_grow_ch=null",
        "train.epochs=2",
        "train.batch_size=4",
        "train.val_batch_size=8",
        "train.num_workers=2",
        "train.log_every=1",
        "compare.batch_size=8",
        "compare.num_workers=2",
        f"compare.checkpoints=[{{name: esrgan, path: {student}}}, "
        "{name: darionet, path: runs/darionet_imagenet/best.safetensors}]",
    ]
    sets = [a for o in overrides for a in ("--set", o)]
    result = cli("train", DARIONET, *sets)
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "darionet_imagenet"
    assert (run / "best.safetensors").is_file() and (run / "summary.json").is_file()
    assert json.loads((run / "teacher_preprocessing.json").read_text())["resize_size"] == [256, 256]
    result = cli("compare", DARIONET, *sets, "--json", tmp_path / "table.json")
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "table.json").read_text())["rows"]
    assert [r["method"] for r in rows] == ["original", "bilinear", "bicubic", "esrgan", "darionet"]
    assert all(0.0 <= r["top1"] <= 1.0 for r in rows)


def test_darionet_with_a_checkpoint_of_the_wrong_layout(
    cli, image_tree: Path, resnet50_pth: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flatten
) -> None:
    monkeypatch.chdir(tmp_path)
    classifier = tmp_path / "classifier.pth"  # a classifier's file given as the student's
    classifier.write_bytes(resnet50_pth.read_bytes())
    sets = ["--set", f"data.root={image_tree}", "--set", f"teacher.weights={resnet50_pth}"]
    sets += ["--set", f"compare.checkpoints.0.path={resnet50_pth}"]
    result = cli("train", DARIONET, "--dry-run", *sets, "--set", f"student.weights={classifier}")
    assert result.exit_code == 1
    assert "not an RRDB network in a known layout" in flatten(result.stderr)
    assert "Traceback" not in result.output


RGB_FOLDER = RECIPES_DIR / "rgb_folder_pixel.yaml"


def test_rgb_folder_recipe_dry_run(cli, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("train", RGB_FOLDER, "--dry-run", "--set", f"data.root={photos}", "--set", "data.val_fraction=0.25")
    assert_dry_run_ok(result, tmp_path / "runs", "3×100×100", "3×32×32", "3×128×128")


@pytest.mark.slow
def test_rgb_folder_recipe_trains_compares_upscales_and_exports_in_colour(
    cli, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tiny run of the shipped recipe on real photos: every step keeps RGB."""
    from PIL import Image

    pytest.importorskip("onnxruntime")
    monkeypatch.chdir(tmp_path)
    tiny = ["--set", f"data.root={photos}", "--set", "data.val_fraction=0.5", "--set", "data.test_fraction=0.25"]
    tiny += ["--set", "data.crops_per_image=2"]
    tiny += ["--set", "train.epochs=1", "--set", "train.batch_size=2", "--set", "train.max_steps_per_epoch=2"]
    tiny += [f"--set={s}" for s in SMALL_RRDB] + ["--set", "device=cpu"]
    result = cli("train", RGB_FOLDER, *tiny)
    assert result.exit_code == 0, result.output
    best = tmp_path / "runs" / "rgb_folder_pixel" / "best.safetensors"
    assert best.is_file()

    result = cli("compare", RGB_FOLDER, *tiny, "--json", tmp_path / "table.json")
    assert result.exit_code == 0, result.output
    import json

    rows = {row["method"]: row for row in json.loads((tmp_path / "table.json").read_text())["rows"]}
    assert set(rows) == {"original", "bilinear", "bicubic", "rrdb_rgb_pixel"}
    assert math.isfinite(rows["bicubic"]["psnr"]) and 0 < rows["bicubic"]["ssim"] < 1
    assert rows["original"]["agreement"] == 1.0

    result = cli("upscale", best, photos, tmp_path / "x4")
    assert result.exit_code == 0, result.output
    assert "luma" not in result.output
    for path in photos.iterdir():
        out = Image.open(tmp_path / "x4" / path.name)
        assert out.mode == "RGB" and out.size == tuple(4 * s for s in Image.open(path).size)

    result = cli("export", best, tmp_path / "exported" / "student")
    assert result.exit_code == 0, result.output
    assert "(batch, 3, height, width)" in result.output and "ok" in result.output


# -- the ImageNet judges recipe ----------------------------------------------------------------------

JUDGES = RECIPES_DIR / "darionet_imagenet_judges.yaml"


def test_judges_recipe_names_each_missing_weights_file(cli, image_tree: Path, tmp_path: Path, monkeypatch, flatten):
    monkeypatch.chdir(tmp_path)
    result = cli("train", JUDGES, "--dry-run", "--set", f"data.root={image_tree}")
    assert result.exit_code == 1 and "Traceback" not in result.output
    text = flatten(result.output)
    for judge in load_recipe(JUDGES).compare.judges:
        assert f"compare.judges ({judge.name}).teacher.weights: {judge.teacher.weights}" in text
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow  # generates ImageNet-sized judges (about 300 MB of weights)
def test_judges_recipe_dry_run_on_generated_weights(cli, image_tree: Path, tmp_path: Path, monkeypatch) -> None:
    """The shipped judge paths, filled with generated files: torchvision layouts for the ResNets and the
    DenseNet (converted by timm), timm's for ConvNeXt-T and a slim VGG-16-BN."""
    import timm
    import torchvision

    monkeypatch.chdir(tmp_path)
    recipe = load_recipe(JUDGES)
    (tmp_path / "weights").mkdir()
    made = {
        "R18": torchvision.models.resnet18(num_classes=3),
        "R101": torchvision.models.resnet101(num_classes=3),
        "D121": torchvision.models.densenet121(num_classes=3),
        "VGG16bn": timm.create_model("vgg16_bn", num_classes=3, mlp_ratio=0.01),
        "ConvNeXt-T": timm.create_model("convnext_tiny", num_classes=3),
    }
    sets = [f"data.root={image_tree}", "data.hr_size=64", "teacher.weights=null", "teacher.model=resnet18.tv_in1k",
            "teacher.num_classes=3", "student.weights=null", *STAND_IN,
            "compare.checkpoints=[]", "compare.judges.3.teacher.model_args={mlp_ratio: 0.01}"]  # fmt: skip
    for i, judge in enumerate(recipe.compare.judges):
        path = Path(str(judge.teacher.weights))
        if path.suffix == ".safetensors":
            save_weights(made[judge.name], path, {"role": "teacher"})
        else:
            torch.save(made[judge.name].state_dict(), path)
        sets.append(f"compare.judges.{i}.teacher.num_classes=3")
    result = cli("train", JUDGES, "--dry-run", *(a for s in sets for a in ("--set", s)))
    assert result.exit_code == 0, result.output
    for judge in recipe.compare.judges:
        assert f"compare.judges.{judge.name} {judge.teacher.label()}" in result.stdout
    assert "Nothing was written" in result.stdout and not (tmp_path / "runs").exists()
