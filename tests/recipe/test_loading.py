"""Reading recipes: every problem reported at once, with clean dotted paths; --set overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from srdistill.errors import UserError
from srdistill.recipe import Recipe, RecipeError, load_recipe
from srdistill.recipe.loading import apply_overrides, validate_recipe

# pieces of pydantic's error locations that must never reach the user
UNION_NOISE = (
    "function-after",
    "function-",
    "tagged-union",
    "[",
    "rrdb.",
    "timm.",
    "fashion_mnist.",
    "logit_mse.",
)


def problems_of(error: RecipeError) -> list[str]:
    """The bullet lines of the message, checked against ``error.problems``."""
    bullets = [line.strip()[2:] for line in error.problem.splitlines() if line.strip().startswith("• ")]
    assert bullets == error.problems
    return bullets


def paths_of(error: RecipeError) -> list[str]:
    return [p.split(":", 1)[0] for p in problems_of(error)]


def assert_clean(error: RecipeError) -> None:
    for path in paths_of(error):
        for noise in UNION_NOISE:
            assert noise not in path, f"union tag in error path {path!r}"


def load_error(path: Path, overrides: tuple[str, ...] = ()) -> RecipeError:
    with pytest.raises(RecipeError) as info:
        load_recipe(path, overrides)
    assert_clean(info.value)
    return info.value


def test_tiny_recipe_is_valid(write_recipe) -> None:
    recipe = load_recipe(write_recipe())
    assert isinstance(recipe, Recipe)
    assert recipe.student is not None and recipe.student.type == "rrdb"
    assert recipe.student.num_feat == 8
    assert recipe.degradation.factor == pytest.approx(0.32)
    assert [loss.type for loss in recipe.losses] == ["logit_mse"]
    assert recipe.train.monitor_for(True) == "ce_gap"
    assert recipe.train.monitor_for(False) == "logit_mse"  # a teacher without class outputs


def test_defaults_fill_in(write_recipe) -> None:
    recipe = load_recipe(write_recipe(degradation=None, run=None, compare=None))
    assert recipe.degradation.type == "bicubic"
    assert recipe.degradation.factor == pytest.approx(0.32)
    assert recipe.run_dir == Path("runs") / "tiny"
    assert recipe.compare.metrics == ("top1", "top5", "ce", "logit_mse", "agreement", "psnr", "ssim", "psnr_y")


def test_teacher_fit_monitor_defaults_to_ce(write_recipe) -> None:
    recipe = load_recipe(write_recipe(student=None, losses=None, train={"fit": "teacher"}))
    assert recipe.student is None and recipe.losses == []
    assert recipe.train.monitor_for(True) == "ce"


def test_unknown_top_level_key_suggests(write_recipe) -> None:
    error = load_error(write_recipe(nmae="oops"))
    (problem,) = problems_of(error)
    assert problem.startswith("nmae: unknown key.")
    assert "Did you mean 'name'?" in problem
    assert "teacher" in problem  # lists the allowed keys


def test_unknown_component_type_suggests_and_lists(write_recipe) -> None:
    error = load_error(write_recipe(student={"type": "rrbd", "num_feat": 8}))
    (problem,) = problems_of(error)
    assert problem.startswith("student: unknown student 'rrbd'.")
    assert "Did you mean 'rrdb'?" in problem
    for known in ("bicubic", "bilinear", "rrdb"):
        assert known in problem


def test_missing_component_type(write_recipe) -> None:
    error = load_error(write_recipe(losses=[{"weight": 1.0}]))
    from srdistill.catalog import catalog

    known = ", ".join(catalog().losses.names())  # the built-ins and any plugin's
    assert problems_of(error) == [f"losses.0: missing 'type'; one of: {known}"]
    assert {"ce_gap", "kl", "logit_mse", "pixel_l1"} <= set(known.split(", "))


def test_all_problems_reported_at_once(write_recipe) -> None:
    path = write_recipe(
        student={"type": "rrdb", "num_feat": "many", "num_blocks": 2},
        losses=[{"type": "logit_mse", "wieght": 2.0}, {"type": "kll"}],
        train={"epochs": -1, "batch_size": 16, "optimizer": {"name": "adamm"}},
        compare={"metrics": ["top1", "psnrr"]},
        teacher={"type": "timm", "model": "test_resnet", "input_size": "big"},
    )
    error = load_error(path)
    problems = problems_of(error)
    assert error.problem.startswith(f"{path}: {len(problems)} problems")
    by_path = {p.split(":", 1)[0]: p for p in problems}
    assert set(by_path) == {
        "student.num_feat",
        "student.num_blocks",
        "losses.0.wieght",
        "losses.1",
        "train.epochs",
        "train.optimizer.name",
        "compare.metrics",
        "teacher.input_size",
    }
    assert "(got 'many')" in by_path["student.num_feat"]
    assert "Did you mean 'num_block'?" in by_path["student.num_blocks"]
    assert "Did you mean 'weight'?" in by_path["losses.0.wieght"]
    assert "unknown loss 'kll'" in by_path["losses.1"] and "Did you mean 'kl'?" in by_path["losses.1"]
    assert "greater than or equal to 1" in by_path["train.epochs"] and "(got -1)" in by_path["train.epochs"]
    assert "unknown optimizer 'adamm'" in by_path["train.optimizer.name"]
    assert "Did you mean 'adam'?" in by_path["train.optimizer.name"]
    assert "Unknown metric 'psnrr'" in by_path["compare.metrics"]
    assert "Did you mean 'psnr'?" in by_path["compare.metrics"]
    assert error.fix is not None and "srdistill list" in error.fix


@pytest.mark.parametrize(
    ("sections", "expected_path", "expected_text"),
    [
        ({"train": {"epochs": 0}}, "train.epochs", "greater than or equal to 1"),
        ({"train": {"batch_size": "lots"}}, "train.batch_size", "valid integer"),
        ({"train": {"optimizer": {"lr": -1}}}, "train.optimizer.lr", "greater than 0"),
        ({"train": {"optimizer": {"name": "nosuchopt"}}}, "train.optimizer.name", "unknown optimizer"),
        ({"train": {"scheduler": {"name": "linear"}}}, "train.scheduler.name", "cosine"),
        ({"train": {"fit": "both"}}, "train.fit", "unknown fit 'both'; one of: student, teacher"),
        ({"train": {"monitor": "nope"}}, "train.monitor", "Unknown metric 'nope'"),
        ({"train": {"hflip": True}}, "train.hflip", "applies to fit: teacher only"),
        ({"train": {"label_smoothing": 0.1}}, "train.label_smoothing", "applies to fit: teacher or joint only"),
        (
            {"student": None, "losses": None, "train": {"fit": "teacher", "monitor": "psnr"}},
            "train.monitor",
            "validated on the originals alone",
        ),
        ({"train": {"epochs": True}}, "train.epochs", "valid integer"),  # YAML true is not 1
        ({"train": {"grad_clip": False}}, "train.grad_clip", "valid number"),
        ({"teacher": {"type": "timm", "mean": [True]}}, "teacher.mean.0", "valid number"),
        ({"train": {"optimizer": {"lr": float("inf")}}}, "train.optimizer.lr", "finite number"),
        ({"losses": [{"type": "logit_mse", "weight": float("nan")}]}, "losses.0.weight", "finite number"),
        ({"degradation": {"type": "bicubic", "factor": float("nan")}}, "degradation.factor", "finite number"),
        ({"compare": {"metrics": ["nope"]}}, "compare.metrics", "Unknown metric 'nope'"),
        ({"device": "gpu"}, "device", "pattern"),
        ({"name": "has space"}, "name", "pattern"),
        ({"seed": [1]}, "seed", "valid integer"),
        ({"data": {"type": "fashion_mnist", "val_size": 0}}, "data.val_size", "greater than or equal to 1"),
        ({"degradation": {"type": "bicubic", "factor": 2}}, "degradation.factor", "less than or equal to 1"),
        ({"teacher": {"type": "timm", "crop_pct": 0}}, "teacher.crop_pct", "greater than 0"),
        ({"teacher": {"type": "timm", "mean": "abc"}}, "teacher.mean", "tuple"),
        ({"losses": [{"type": "kl", "temperature": 0}]}, "losses.0.temperature", "greater than 0"),
        ({"losses": [{"type": "pixel_l1", "weight": -1}]}, "losses.0.weight", "greater than or equal to 0"),
        ({"student": {"type": "rrdb", "scale": 3}}, "student.scale", "1, 2 or 4"),
        ({"student": {"type": "bicubic", "num_feat": 8}}, "student.num_feat", "unknown key"),
        ({"run": {"dir": 3}}, "run.dir", "path"),
        ({"run": {"folder": "x"}}, "run.folder", "unknown key. Allowed here: dir"),
        ({"teacher": None}, "teacher", "required but missing"),
        ({"data": None}, "data", "required but missing"),
        ({"data": "fashion_mnist"}, "data", ""),
        ({"losses": {"type": "logit_mse"}}, "losses", "valid list"),  # the forgotten "- "
        ({"compare": {"checkpoints": [{"name": "x"}]}}, "compare.checkpoints.0.path", "required but missing"),
        ({"teacher": {"type": "timm", "mean": [0.5, "a"]}}, "teacher.mean.1", "valid number"),
        (
            {"train": {"scheduler": {"decay_milestones": ["a"]}}},
            "train.scheduler.decay_milestones.0",
            "integer",
        ),
        ({"data": {"type": "image_folder"}}, "data.root", "required but missing"),
        # a key named like the fit's tag is a key, not the tag again
        ({"train": {"fit": "joint", "joint": {"x": 1}}}, "train.joint", "unknown key"),
        ({"train": {"fit": "teacher", "teacher": 1}}, "train.teacher", "unknown key"),
    ],
)
def test_one_problem(write_recipe, sections: dict[str, Any], expected_path: str, expected_text: str) -> None:
    error = load_error(write_recipe(**sections))
    (problem,) = problems_of(error)
    path, _, message = problem.partition(": ")
    assert path == expected_path
    assert expected_text in message


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        ({"student": None}, "no student section"),
        ({"losses": []}, "losses is empty"),
    ],
)
def test_inconsistent_sections(write_recipe, sections: dict[str, Any], expected: str) -> None:
    error = load_error(write_recipe(**sections))
    (problem,) = problems_of(error)
    assert problem.startswith("(top level): ")
    assert expected in problem


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ndata:\n  type: fashion_mnist\n  root: [unclosed\nteacher: {type: timm}\n")
    with pytest.raises(UserError) as info:
        load_recipe(path)
    assert not isinstance(info.value, RecipeError)
    message = str(info.value)
    assert str(path) in message and "not valid YAML" in message
    assert "(line 5," in message


@pytest.mark.parametrize("text", ["- just\n- a list\n", "plain string\n", "", "42\n"])
def test_recipe_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match="must hold a mapping"):
        load_recipe(path)


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(UserError, match="not a text file"):
        load_recipe(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="Recipe not found") as info:
        load_recipe(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in str(info.value)


def test_folder_is_not_a_recipe(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="Recipe not found"):
        load_recipe(tmp_path)


# -- --set overrides ---------------------------------------------------------------------------------


def test_override_nested_key(write_recipe) -> None:
    recipe = load_recipe(write_recipe(), ["train.epochs=3", "student.num_feat=16", "train.optimizer.name=SGD"])
    assert recipe.train.epochs == 3
    assert recipe.student.num_feat == 16
    assert recipe.train.optimizer.name == "sgd"


def test_override_list_index(write_recipe) -> None:
    path = write_recipe(losses=[{"type": "logit_mse"}, {"type": "pixel_l1", "weight": 2.0}])
    recipe = load_recipe(path, ["losses.0.weight=0.5", "losses.-1.weight=4"])
    assert [loss.weight for loss in recipe.losses] == [0.5, 4.0]


def test_override_replaces_list_item(write_recipe) -> None:
    recipe = load_recipe(write_recipe(), ["losses.0={type: kl, temperature: 2}"])
    assert recipe.losses[0].type == "kl"
    assert recipe.losses[0].temperature == 2.0


def test_override_values_are_yaml_typed(write_recipe) -> None:
    raw: dict[str, Any] = {"train": {}, "compare": {}}
    apply_overrides(
        raw,
        [
            "train.epochs=3",
            "train.max_steps_per_epoch=null",
            "compare.metrics=[top1, psnr]",
            "train.optimizer.lr=2e-4",
            "train.hflip=true",
            "name=x",
            "run.dir=",
        ],
        "r",
    )
    assert raw["train"]["epochs"] == 3
    assert raw["train"]["max_steps_per_epoch"] is None
    assert raw["compare"]["metrics"] == ["top1", "psnr"]
    assert raw["train"]["hflip"] is True
    assert raw["name"] == "x"
    assert raw["run"] == {"dir": None}
    recipe = load_recipe(
        write_recipe(),
        ["train.max_steps_per_epoch=null", "compare.metrics=[top1, psnr]", "train.optimizer.lr=2e-4"],
    )
    assert recipe.train.max_steps_per_epoch is None
    assert recipe.compare.metrics == ("top1", "psnr")
    assert isinstance(recipe.train.optimizer.lr, float)
    assert recipe.train.optimizer.lr == pytest.approx(2e-4)


def test_override_creates_missing_sections(write_recipe) -> None:
    recipe = load_recipe(write_recipe(compare=None), ["compare.batch_size=7", "train.scheduler.name=none"])
    assert recipe.compare.batch_size == 7
    assert recipe.train.scheduler.name == "none"


def test_overridden_values_are_validated(write_recipe) -> None:
    error = load_error(write_recipe(), ("train.epochs=-2", "losses.0.wieght=1"))
    assert paths_of(error) == ["losses.0.wieght", "train.epochs"]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("train.epochs", "expected KEY.PATH=VALUE"),
        ("=3", "expected KEY.PATH=VALUE"),
        ("losses.5.weight=1", "index 5 is out of range (the list has 1 items)"),
        ("losses.first.weight=1", "'first' must be a list index"),
        ("name.first=1", "'first' is under a value that is not a section"),
        ("losses.0.type.x=1", "'x' is under a value that is not a section"),
    ],
)
def test_bad_overrides(write_recipe, override: str, expected: str) -> None:
    with pytest.raises(RecipeError) as info:
        load_recipe(write_recipe(), [override])
    (problem,) = problems_of(info.value)
    assert problem.startswith("--set ")
    assert expected in problem
    assert "(overrides)" in info.value.problem


def test_bad_overrides_are_all_reported(write_recipe) -> None:
    with pytest.raises(RecipeError) as info:
        load_recipe(write_recipe(), ["nope", "losses.9=1", "train.epochs=2"])
    assert len(problems_of(info.value)) == 2


def test_validate_recipe_accepts_a_dict(write_recipe) -> None:
    raw = yaml.safe_load(write_recipe().read_text())
    assert validate_recipe(raw).name == "tiny"


@pytest.mark.parametrize(
    ("text", "key", "lines"),
    [
        ("a: 1\nb: 2\na: 3\n", "a", "lines 1 and 3"),
        ("s:\n  x: 1\n  y:\n    z: 1\n    z: 2\n", "z", "lines 4 and 5"),
        ("losses:\n  - type: p\n    weight: 1\n    weight: 2\n", "weight", "lines 3 and 4"),
        ("s: {k: 1, k: 2}\n", "k", "lines 1 and 1"),
    ],
)
def test_duplicate_keys_at_any_depth_are_refused(tmp_path: Path, text: str, key: str, lines: str) -> None:
    from srdistill.recipe.loading import read_yaml

    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=f"the key '{key}' appears twice \\({lines}\\)") as e:
        read_yaml(path)
    assert e.value.fix is not None and "Keep one" in e.value.fix


def test_same_key_in_different_mappings_and_merge_keys_are_fine(tmp_path: Path) -> None:
    from srdistill.recipe.loading import read_yaml

    path = tmp_path / "r.yaml"
    path.write_text("a: {type: x}\nb: {type: y}\nbase: &b {lr: 1, wd: 2}\nopt:\n  <<: *b\n  lr: 3\n")
    assert read_yaml(path) == {"a": {"type": "x"}, "b": {"type": "y"}, "base": {"lr": 1, "wd": 2},
                               "opt": {"lr": 3, "wd": 2}}  # fmt: skip


def test_unknown_type_names_the_plugins_that_failed_to_load(make_recipe, tmp_path: Path) -> None:
    from srdistill.catalog import catalog

    recipe = make_recipe(tmp_path)
    recipe["teacher"] = {"type": "tiny_cnn"}
    problem = "plugin 'my_teacher' from my-teacher failed to load and was skipped: ImportError: no module named x"
    problems = catalog().problems
    saved = list(problems)  # plugins installed here may have failed too; this test sets its own
    try:
        problems[:] = [problem]
        with pytest.raises(RecipeError, match="unknown teacher 'tiny_cnn'") as e:
            validate_recipe(recipe)
        assert f"It may come from a plugin that failed to load: {problem}" in str(e.value)
        problems.clear()
        with pytest.raises(RecipeError) as e:
            validate_recipe(recipe)
        assert "failed to load" not in str(e.value)
    finally:
        problems[:] = saved


@pytest.mark.parametrize(
    ("where", "section", "kind"),
    [
        (lambda r: r.setdefault("compare", {}).update(judges=[{"name": "j", "teacher": {"type": "rrdb"}}]),
         "compare.judges.0.teacher", "teacher"),
        (lambda r: r.update(teachers=[{"teacher": {"type": "rrdb"}}]), "teachers.0.teacher", "teacher"),
        (lambda r: r.update(degradation={"type": "chain", "steps": [{"type": "rrdb"}]}),
         "degradation.steps.0", "degradation"),
    ],
    ids=["judge", "ensemble", "chain_step"],
)  # fmt: skip
def test_an_unknown_type_inside_a_section_names_the_right_kind(make_recipe, tmp_path: Path, where, section, kind):
    recipe = make_recipe(tmp_path)
    where(recipe)
    with pytest.raises(RecipeError) as e:
        validate_recipe(recipe)
    problem = next(p for p in e.value.problems if p.startswith(section))
    assert f"unknown {kind} 'rrdb'" in problem and "data set" not in problem
