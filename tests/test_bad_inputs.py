"""Bad input of every kind: a one-screen error, a non-zero exit, no traceback, no run folder harmed.

Each case prepares its inputs in a folder and returns the command line; an earlier finished run
sits in the recipe's run folder and must be left exactly as it was.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from srdistill.checkpoints import save_weights
from srdistill.compat.basicsr import rrdbnet_class

Case = Callable[[Path, dict[str, Any]], list[str]]
MARKER = "pwned.txt"
FRESH = "fresh"


class Exploit:
    """A pickle that runs code when loaded with weights_only=False."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def write(folder: Path, recipe: dict[str, Any], name: str = "recipe.yaml") -> str:
    path = folder / name
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return str(path)


def train(folder: Path, recipe: dict[str, Any], *extra: str) -> list[str]:
    return ["train", write(folder, recipe), *extra]


def student_file(folder: Path, channels: int = 1) -> Path:
    path = folder / "student.pth"
    net = rrdbnet_class()(channels, channels, scale=4, num_feat=8, num_block=1, num_grow_ch=4)
    torch.save({"params_ema": net.state_dict()}, path)
    return path


def with_student_weights(folder: Path, recipe: dict[str, Any], path: Path) -> list[str]:
    recipe["student"]["weights"] = str(path)
    return train(folder, recipe)


def fresh_run_dir(folder: Path, recipe: dict[str, Any]) -> None:
    """Point the run at a new folder, so the error comes from building the recipe; it must stay unwritten."""
    recipe["run"]["dir"] = str(folder / "runs" / FRESH)


# -- the cases ------------------------------------------------------------------------------------------


def unknown_top_level_key(folder, recipe):
    recipe["trian"] = {"epochs": 1}
    return train(folder, recipe)


def unknown_component_type(folder, recipe):
    recipe["student"]["type"] = "rrbd"
    return train(folder, recipe)


def wrong_value_type(folder, recipe):
    recipe["train"]["epochs"] = "ten"
    return train(folder, recipe)


def negative_learning_rate(folder, recipe):
    recipe["train"]["optimizer"]["lr"] = -1
    return train(folder, recipe)


def missing_teacher_section(folder, recipe):
    del recipe["teacher"]
    return train(folder, recipe)


def unknown_loss_and_metric(folder, recipe):
    recipe["losses"] = [{"type": "logit_mes"}]
    recipe["compare"]["metrics"] = ["top1", "psnrr"]
    return train(folder, recipe)


def yaml_syntax_error(folder, recipe):
    path = folder / "broken.yaml"
    path.write_text("name: x\ntrain: {epochs: 1\n")
    return ["train", str(path)]


def recipe_not_a_mapping(folder, recipe):
    path = folder / "list.yaml"
    path.write_text("- a\n- b\n")
    return ["train", str(path)]


def recipe_file_missing(folder, recipe):
    return ["train", str(folder / "nope.yaml")]


def recipe_is_binary(folder, recipe):
    path = folder / "binary.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    return ["train", str(path)]


def bad_override_syntax(folder, recipe):
    return train(folder, recipe, "--set", "train.epochs")


def override_index_out_of_range(folder, recipe):
    return train(folder, recipe, "--set", "losses.5.weight=1")


def data_root_missing(folder, recipe):
    recipe["data"]["root"] = str(folder / "no-data")
    return train(folder, recipe)


def teacher_weights_missing(folder, recipe):
    recipe["teacher"]["weights"] = str(folder / "teacher.pth")
    return train(folder, recipe)


def teacher_weights_of_another_architecture(folder, recipe):
    import timm

    path = folder / "resnet18.pth"
    torch.save(timm.create_model("resnet18", num_classes=10, in_chans=1).state_dict(), path)
    recipe["teacher"]["weights"] = str(path)
    return train(folder, recipe)


def student_weights_not_an_rrdb(folder, recipe):
    path = folder / "linear.safetensors"
    save_weights(torch.nn.Linear(3, 3), path)
    return with_student_weights(folder, recipe, path)


def student_weights_truncated(folder, recipe):
    path = student_file(folder)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return with_student_weights(folder, recipe, path)


def safetensors_truncated(folder, recipe):
    path = folder / "s.safetensors"
    net = rrdbnet_class()(1, 1, scale=4, num_feat=8, num_block=1, num_grow_ch=4)
    save_weights(net, path)
    path.write_bytes(path.read_bytes()[:100])
    return with_student_weights(folder, recipe, path)


def pickle_carrying_code(folder, recipe):
    path = folder / "evil.pth"
    with path.open("wb") as f:
        pickle.dump({"params_ema": Exploit(folder / MARKER)}, f)
    return with_student_weights(folder, recipe, path)


def student_weights_of_other_channels(folder, recipe):
    return with_student_weights(folder, recipe, student_file(folder, channels=3))


def weights_path_is_a_folder(folder, recipe):
    (folder / "weights").mkdir()
    return with_student_weights(folder, recipe, folder / "weights")


def run_folder_under_a_file(folder, recipe):
    (folder / "a-file").write_text("x")
    recipe["run"]["dir"] = str(folder / "a-file" / "run")
    return train(folder, recipe)


def existing_run_of_another_recipe(folder, recipe):
    recipe["seed"] = 123  # the run folder holds a finished run of the seed-0 recipe
    return train(folder, recipe)


def compare_checkpoint_missing(folder, recipe):
    recipe["compare"]["checkpoints"] = [{"name": "mine", "path": str(folder / "missing.safetensors")}]
    return ["compare", write(folder, recipe)]


def compare_teacher_checkpoint_as_student(folder, recipe):
    import timm

    path = folder / "teacher.safetensors"
    save_weights(timm.create_model("test_resnet", num_classes=10, in_chans=1), path, {"role": "teacher"})
    recipe["compare"]["checkpoints"] = [{"name": "mine", "path": str(path)}]
    return ["compare", write(folder, recipe)]


def compare_row_name_clash(folder, recipe):
    recipe["compare"]["checkpoints"] = [{"name": "bicubic", "path": str(student_file(folder))}]
    return ["compare", write(folder, recipe)]


def corrupt_dataset_file(folder, recipe, fmnist_root: Path | None = None):
    data = folder / "fmnist"
    data.mkdir()
    assert fmnist_root is not None
    for f in fmnist_root.iterdir():
        (data / f.name).write_bytes(f.read_bytes())
    target = data / "train-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:500])
    recipe["data"]["root"] = str(data)
    return train(folder, recipe)


def batch_larger_than_the_data(folder, recipe):
    recipe["train"]["batch_size"] = 100_000
    return train(folder, recipe)


def batch_larger_than_the_data_at_dry_run(folder, recipe):
    fresh_run_dir(folder, recipe)
    recipe["train"]["batch_size"] = 100_000
    return train(folder, recipe, "--dry-run")


def cuda_without_cuda(folder, recipe):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    recipe["device"] = "cuda"
    return train(folder, recipe)


def image_folder_missing_a_class_in_val(folder, recipe):
    from PIL import Image

    for split, classes in (("train", ("a", "b")), ("val", ("a",))):
        for c in classes:
            (folder / "tree" / split / c).mkdir(parents=True)
            Image.new("L", (20, 20)).save(folder / "tree" / split / c / "x.png")
    recipe["data"] = {"type": "image_folder", "root": str(folder / "tree"), "hr_size": 28, "channels": 1}
    return train(folder, recipe)


def duplicate_top_level_key(folder, recipe):
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False) + "train:\n  epochs: 2\n")
    return ["train", str(path)]


def duplicate_nested_key(folder, recipe):
    path = folder / "recipe.yaml"
    text = yaml.safe_dump(recipe, sort_keys=False)
    path.write_text(text.replace("  optimizer:\n", "  optimizer:\n    lr: 0.5\n", 1))
    return ["train", str(path)]


def duplicate_key_in_an_override(folder, recipe):
    return train(folder, recipe, "--set", "train.optimizer={name: adam, lr: 0.1, lr: 0.2}")


def image_folder_with_one_class(folder, recipe):
    fresh_run_dir(folder, recipe)
    from PIL import Image

    for split in ("train", "val"):
        (folder / "tree" / split / "only").mkdir(parents=True)
        for i in range(4):
            Image.new("L", (20, 20), 40 * i).save(folder / "tree" / split / "only" / f"{i}.png")
    recipe["data"] = {"type": "image_folder", "root": str(folder / "tree"), "hr_size": 28, "channels": 1}
    return train(folder, recipe)


def image_folder_class_without_a_readable_image(folder, recipe):
    fresh_run_dir(folder, recipe)
    from PIL import Image

    for split in ("train", "val"):
        for c in ("a", "b"):
            (folder / "tree" / split / c).mkdir(parents=True)
            for i in range(2):
                target = folder / "tree" / split / c / f"{i}.png"
                if split == "train" and c == "b":
                    target.write_bytes(b"not a png")
                else:
                    Image.new("L", (20, 20)).save(target)
    recipe["data"] = {"type": "image_folder", "root": str(folder / "tree"), "hr_size": 28, "channels": 1}
    return train(folder, recipe)


def teacher_std_zero(folder, recipe):
    recipe["teacher"]["std"] = [0.0]
    return train(folder, recipe)


def teacher_std_infinite(folder, recipe):
    return train(folder, recipe, "--set", "teacher.std=[.inf]")


def teacher_mean_nan(folder, recipe):
    return train(folder, recipe, "--set", "teacher.mean=[.nan]")


def loss_weights_sum_to_zero(folder, recipe):
    fresh_run_dir(folder, recipe)
    recipe["losses"] = [{"type": "logit_mse", "weight": 0.0}, {"type": "pixel_l1", "weight": 0}]
    return train(folder, recipe)


def loss_weight_infinite(folder, recipe):
    return train(folder, recipe, "--set", "losses.0.weight=.inf")


def upscale_into_its_input_folder(folder, recipe):
    from PIL import Image

    (folder / "photos").mkdir()
    Image.new("RGB", (12, 10)).save(folder / "photos" / "a.png")
    return ["upscale", str(student_file(folder)), str(folder / "photos"), str(folder / "photos" / "up")]


def upscale_output_is_an_existing_file(folder, recipe):
    from PIL import Image

    (folder / "photos").mkdir()
    Image.new("RGB", (12, 10)).save(folder / "photos" / "a.png")
    (folder / "out.png").write_bytes(b"a file of mine")
    return ["upscale", str(student_file(folder)), str(folder / "photos"), str(folder / "out.png")]


def upscale_with_malformed_metadata(folder, recipe):
    from PIL import Image

    Image.new("RGB", (12, 10)).save(folder / "a.png")
    path = folder / "student.safetensors"
    net = rrdbnet_class()(3, 3, scale=4, num_feat=8, num_block=1, num_grow_ch=4)
    save_weights(net, path, {"role": "student", "config": {"type": "rrdb", "num_block": "many"}, "channels": 3})
    return ["upscale", str(path), str(folder / "a.png"), str(folder / "b.png")]


def upscale_with_a_classifier(folder, recipe):
    import timm
    from PIL import Image

    Image.new("RGB", (12, 10)).save(folder / "a.png")
    path = folder / "classifier.pth"
    torch.save(timm.create_model("test_resnet", num_classes=10).state_dict(), path)
    return ["upscale", str(path), str(folder / "a.png"), str(folder / "b.png")]


def ensemble_member_with_other_classes(folder, recipe):
    """A 5-class classifier in a teachers: ensemble on 10-class data: stopped at --dry-run, before any step."""
    fresh_run_dir(folder, recipe)
    member = {**recipe["teacher"], "num_classes": 5}
    recipe["teachers"] = [{"name": "five", "teacher": member}]
    return train(folder, recipe, "--dry-run")


def teacher_with_other_classes(folder, recipe):
    fresh_run_dir(folder, recipe)
    recipe["teacher"]["num_classes"] = 5
    return train(folder, recipe)


def lpips_monitor_on_small_images(folder, recipe):
    fresh_run_dir(folder, recipe)
    recipe["train"]["monitor"] = "lpips"
    return train(folder, recipe, "--dry-run")


def two_problems_at_once(folder, recipe):
    fresh_run_dir(folder, recipe)
    recipe["teacher"]["num_classes"] = 5
    recipe["train"]["monitor"] = "lpips"
    return train(folder, recipe, "--dry-run")


def student_and_teacher_share_a_file(folder, recipe):
    fresh_run_dir(folder, recipe)
    path = student_file(folder)
    recipe["student"]["weights"] = str(path)
    recipe["teacher"]["weights"] = str(path)
    return train(folder, recipe, "--dry-run")


def overwrite_would_delete_the_weights_it_starts_from(folder, recipe):
    """--overwrite empties the run folder: a teacher file inside it is refused before anything is removed."""
    recipe["teacher"]["weights"] = str(Path(recipe["run"]["dir"]) / "best.safetensors")
    return train(folder, recipe, "--overwrite")


def joint_fit_with_an_ensemble(folder, recipe):
    fresh_run_dir(folder, recipe)
    recipe["train"] = {"fit": "joint", "epochs": 1}
    recipe["teachers"] = [{"name": "b", "teacher": recipe["teacher"]}]
    return train(folder, recipe, "--dry-run")


def fused_optimizer_without_a_fused_form_at_dry_run(folder, recipe):
    """optimizer.fused: true with an optimizer that has none: refused at --dry-run, not at the first step."""
    fresh_run_dir(folder, recipe)
    recipe["train"]["optimizer"] = {"name": "lamb", "lr": 1e-3, "fused": True}
    return train(folder, recipe, "--dry-run")


def upscale_on_cuda_without_cuda(folder, recipe):
    """upscale --device cuda where there is none: the fix names upscale's own option, not --set."""
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    from PIL import Image

    Image.new("L", (9, 9)).save(folder / "a.png")
    return ["upscale", str(student_file(folder)), str(folder / "a.png"), str(folder / "out"), "--device", "cuda"]


def set_key_named_like_the_fit(folder, recipe):
    """--set train.joint.x under fit: joint: the path is train.joint, not train.joint.joint."""
    fresh_run_dir(folder, recipe)
    recipe["train"] = {"fit": "joint", "epochs": 1}
    return train(folder, recipe, "--set", "train.joint.x=1")


def export_a_joint_runs_classifier(folder, recipe):
    """export (or upscale) of a classifier file srdistill wrote: named as a classifier, with the file to give."""
    import timm

    path = folder / "classifier_best.safetensors"
    meta = {"role": "teacher", "config": {"type": "timm", "model": "test_resnet"}}
    save_weights(timm.create_model("test_resnet", num_classes=10, in_chans=1), path, meta)
    return ["export", str(path), str(folder / "out"), "--no-onnx"]


CASES: list[Case] = [
    unknown_top_level_key,
    unknown_component_type,
    wrong_value_type,
    negative_learning_rate,
    missing_teacher_section,
    unknown_loss_and_metric,
    yaml_syntax_error,
    recipe_not_a_mapping,
    recipe_file_missing,
    recipe_is_binary,
    bad_override_syntax,
    override_index_out_of_range,
    data_root_missing,
    teacher_weights_missing,
    teacher_weights_of_another_architecture,
    student_weights_not_an_rrdb,
    student_weights_truncated,
    safetensors_truncated,
    pickle_carrying_code,
    student_weights_of_other_channels,
    weights_path_is_a_folder,
    run_folder_under_a_file,
    existing_run_of_another_recipe,
    compare_checkpoint_missing,
    compare_teacher_checkpoint_as_student,
    compare_row_name_clash,
    corrupt_dataset_file,
    batch_larger_than_the_data,
    batch_larger_than_the_data_at_dry_run,
    student_and_teacher_share_a_file,
    overwrite_would_delete_the_weights_it_starts_from,
    joint_fit_with_an_ensemble,
    cuda_without_cuda,
    image_folder_missing_a_class_in_val,
    duplicate_top_level_key,
    duplicate_nested_key,
    duplicate_key_in_an_override,
    image_folder_with_one_class,
    image_folder_class_without_a_readable_image,
    teacher_std_zero,
    teacher_std_infinite,
    teacher_mean_nan,
    loss_weights_sum_to_zero,
    ensemble_member_with_other_classes,
    teacher_with_other_classes,
    lpips_monitor_on_small_images,
    two_problems_at_once,
    loss_weight_infinite,
    upscale_into_its_input_folder,
    upscale_output_is_an_existing_file,
    upscale_with_malformed_metadata,
    upscale_with_a_classifier,
    fused_optimizer_without_a_fused_form_at_dry_run,
    upscale_on_cuda_without_cuda,
    set_key_named_like_the_fit,
    export_a_joint_runs_classifier,
]


# what each new case's error must say: the problem named, not just any error
EXPECTED = {
    "duplicate_top_level_key": "the key 'train' appears twice",
    "duplicate_nested_key": "the key 'lr' appears twice",
    "duplicate_key_in_an_override": "the key 'lr' appears twice",
    "image_folder_with_one_class": "has one class folder (only)",
    "image_folder_class_without_a_readable_image": "no image of 1 classes can be decoded: b",
    "teacher_std_zero": "teacher.std: every value must be positive",
    "teacher_std_infinite": "teacher.std.0: Input should be a finite number",
    "teacher_mean_nan": "teacher.mean.0: Input should be a finite number",
    "loss_weights_sum_to_zero": "Every loss has weight 0 (logit_mse, pixel_l1)",
    "loss_weight_infinite": "losses.0.weight",
    "upscale_into_its_input_folder": "is inside the input folder",
    "upscale_output_is_an_existing_file": "is an existing file",
    "upscale_with_malformed_metadata": "config.num_block",
    "upscale_with_a_classifier": "is not an RRDB network",
    "ensemble_member_with_other_classes": "teachers 'five' has 5 classes but the data set has 10",
    "teacher_with_other_classes": "teacher has 5 classes but the data set has 10",
    "lpips_monitor_on_small_images": "train.monitor: lpips needs images of at least 31×31",
    "two_problems_at_once": "The recipe has 2 problems",
    "batch_larger_than_the_data_at_dry_run": "holds less than one batch of 100000",
    "student_and_teacher_share_a_file": "student.weights and teacher.weights are the same file",
    "overwrite_would_delete_the_weights_it_starts_from": "would write over the weights it starts from",
    "joint_fit_with_an_ensemble": "train.fit: joint uses none",
    "fused_optimizer_without_a_fused_form_at_dry_run": "optimizer 'lamb' has no fused form",
    "upscale_on_cuda_without_cuda": "Fix: Use --device=auto.",
    "set_key_named_like_the_fit": "train.joint: unknown key.",
    "export_a_joint_runs_classifier": "holds a classifier (role: teacher), not an SR network",
}


def files(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture
def finished_run(tmp_path: Path, make_recipe) -> tuple[dict[str, Any], Path]:
    """A recipe whose run folder already holds a finished run (of the same recipe with seed 0)."""
    from srdistill.engine.runs import resolved_yaml
    from srdistill.recipe.loading import validate_recipe

    recipe = make_recipe(tmp_path)
    run = Path(recipe["run"]["dir"])
    run.mkdir(parents=True)
    (run / "recipe.yaml").write_text(resolved_yaml(validate_recipe(recipe)))
    (run / "summary.json").write_text('{"best_epoch": 1}\n')
    (run / "best.safetensors").write_bytes(b"weights of an earlier run")
    (run / "metrics.csv").write_text("epoch,val_top1\n1,0.5\n")
    return recipe, run


def test_there_are_at_least_twenty_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_bad_input(case: Case, cli, finished_run, tmp_path: Path, fmnist_root: Path) -> None:
    recipe, run = finished_run
    before = files(run)
    kwargs = {"fmnist_root": fmnist_root} if case is corrupt_dataset_file else {}
    args = case(tmp_path, recipe, **kwargs)
    result = cli(*args)
    output = result.output
    assert result.exit_code not in (0, None), output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output
    assert "error" in output and "Fix:" in output
    assert len(output.strip().splitlines()) <= 30, output  # one screen
    assert files(run) == before
    assert not (tmp_path / MARKER).exists()
    assert not (tmp_path / "runs" / FRESH).exists()
    if case.__name__ in EXPECTED:
        assert EXPECTED[case.__name__] in " ".join(output.replace("│", " ").split()), output
