"""Plugins: entry points discovered once, broken plugins are warnings, the example plugin trains."""

from __future__ import annotations

import importlib.util
import warnings
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest
import yaml

import srdistill.plugins
from srdistill.catalog import builtins, catalog
from srdistill.plugins import GROUP, PluginWarning, load_plugins
from srdistill.recipe import schema

EXAMPLE = Path(__file__).parents[1] / "plugins" / "srdistill-torchvision"


def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, body: str) -> EntryPoint:
    (tmp_path / f"{name}.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    return EntryPoint(name=name, value=f"{name}:register", group=GROUP)


def load(eps: list[EntryPoint]):  # type: ignore[no-untyped-def]
    cat = builtins()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_plugins(cat, eps)
    return cat, [str(w.message) for w in caught if issubclass(w.category, PluginWarning)]


@pytest.fixture
def fresh_catalog():
    """Clear the cached registries before and after, so a test's plugins do not leak."""
    catalog.cache_clear()
    schema._recipe_model.cache_clear()
    yield
    catalog.cache_clear()
    schema._recipe_model.cache_clear()


def test_a_plugin_that_fails_to_import_is_a_warning(tmp_path, monkeypatch) -> None:
    ep = plugin_module(tmp_path, monkeypatch, "broken_plugin", "raise ImportError('no module named fancy_dep')\n")
    cat, warned = load([ep])
    assert len(warned) == 1
    assert "plugin 'broken_plugin'" in warned[0] and "ImportError: no module named fancy_dep" in warned[0]
    assert cat.problems == warned
    assert "rrdb" in cat.students and "timm" in cat.teachers  # the built-ins are all there


def one_config_plugin(base: str, name: str, tag: str, registration: str, then: str = "") -> str:
    """The source of a plugin whose one config class ``name`` (type ``tag``) derives from ``base``."""
    module, _, cls = base.rpartition(".")
    return (
        f"from typing import Literal\nfrom {module} import {cls}\nclass {name}({cls}):\n    type: Literal['{tag}']\n"
        f"def register(r):\n    {registration}\n{then}"
    )


def test_a_plugin_failing_half_way_leaves_nothing_behind(tmp_path, monkeypatch) -> None:
    body = one_config_plugin(
        "srdistill.students.base.StudentConfig", "HalfConfig", "half",
        "r.students.add(HalfConfig, lambda cfg, info: None)", then="    raise RuntimeError('second half broke')\n",
    )  # fmt: skip
    cat, warned = load([plugin_module(tmp_path, monkeypatch, "half_plugin", body)])
    assert "RuntimeError: second half broke" in warned[0]
    assert "half" not in cat.students


def test_a_name_clash_is_reported_not_overwritten(tmp_path, monkeypatch) -> None:
    body = (
        "from typing import Literal\n"
        "from srdistill.teachers.base import TeacherConfig\n"
        "class TimmConfig(TeacherConfig):\n"
        "    type: Literal['timm']\n"
        "class MineConfig(TeacherConfig):\n"
        "    type: Literal['mine']\n"
        "def register(r):\n"
        "    r.teachers.add(TimmConfig, lambda cfg, info: None)\n"
        "    r.teachers.add(MineConfig, lambda cfg, info: None)\n"
    )
    cat, warned = load([plugin_module(tmp_path, monkeypatch, "clash_plugin", body)])
    assert len(warned) == 1 and "teacher 'timm' from clash_plugin clashes with the one from srdistill" in warned[0]
    assert cat.teachers.get("timm").source == "srdistill"
    assert cat.teachers.get("mine").source == "clash_plugin"


def test_a_config_of_the_wrong_base_is_refused_with_a_warning(tmp_path, monkeypatch) -> None:
    """The engine reads a teacher's ``weights``, a loss's ``weight``, …: their base classes declare them."""
    body = one_config_plugin(
        "srdistill.registry.ComponentConfig", "LooseConfig", "loose", "r.losses.add(LooseConfig, lambda cfg: None)"
    )
    cat, warned = load([plugin_module(tmp_path, monkeypatch, "loose_plugin", body)])
    assert "loss config LooseConfig must derive from srdistill.losses.base.WeightedConfig" in warned[0]
    assert "loose" not in cat.losses


def test_cli_list_shows_a_broken_plugin_as_a_warning(cli, tmp_path, monkeypatch, fresh_catalog) -> None:
    ep = plugin_module(tmp_path, monkeypatch, "broken_plugin2", "import does_not_exist_anywhere\n")
    monkeypatch.setattr(srdistill.plugins, "entry_points", lambda group: [ep])
    catalog.cache_clear()
    result = cli("list", "teachers")
    assert result.exit_code == 0, result.output
    assert "warning" in result.output and "broken_plugin2" in result.output
    assert "ModuleNotFoundError" in result.output and "timm" in result.output


# -- the example plugin in plugins/ -------------------------------------------------------------------


def installed() -> bool:
    return importlib.util.find_spec("srdistill_torchvision") is not None


def test_example_plugin_is_installed_by_the_setup_script() -> None:
    assert installed(), f"run `bash scripts/setup.sh`: it installs {EXAMPLE} into .venv"
    names = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    assert names.get("torchvision") == "srdistill_torchvision:register"


def test_cli_list_shows_where_each_entry_comes_from(cli) -> None:
    result = cli("list", "teachers")
    assert result.exit_code == 0
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") >= 3}
    assert "srdistill-torchvision" in lines["torchvision"] and "srdistill-torchvision" in lines["torchvision_seg"]
    assert "srdistill " in lines["timm"] or lines["timm"].rstrip(" │").endswith("srdistill")


def example_recipe(tmp_path: Path, fmnist_root: Path, **changes) -> Path:
    recipe = yaml.safe_load((EXAMPLE / "recipes" / "fmnist_segmentation_teacher.yaml").read_text())
    recipe["data"] |= {"root": str(fmnist_root), "val_size": 40, "train_size": 64, "test_size": 32}
    recipe["student"] |= {"num_feat": 8, "num_block": 1, "num_grow_ch": 4}
    recipe["train"] |= {"batch_size": 16, "max_steps_per_epoch": 2, "val_batch_size": 64}
    recipe["run"] = {"dir": str(tmp_path / "run")}
    recipe["teacher"]["input_size"] = 32
    for key, value in changes.items():
        recipe[key] = value
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_train_and_compare_with_the_segmentation_teacher(cli, tmp_path, fmnist_root) -> None:
    recipe = example_recipe(tmp_path, fmnist_root)
    result = cli("train", recipe)
    assert result.exit_code == 0, result.output
    assert "best epoch by val logit_mse" in result.output  # no labels: the dense default
    with (tmp_path / "run" / "metrics.csv").open() as f:
        header = f.readline()
    assert "val_logit_mse" in header and "val_top1" not in header
    best = tmp_path / "run" / "best.safetensors"
    result = cli(
        "compare", recipe, "--set", f"compare.checkpoints=[{{name: seg, path: {best}}}]", "--json", tmp_path / "t.json"
    )
    assert result.exit_code == 0, result.output
    assert "the teacher outputs maps, not classes: top1, top5, ce left out" in " ".join(result.output.split())
    import json

    rows = json.loads((tmp_path / "t.json").read_text())["rows"]
    assert rows[0]["method"] == "original" and "top1" not in rows[0] and rows[0]["agreement"] == 1.0
    assert rows[-1]["method"] == "seg" and 0.0 <= rows[-1]["agreement"] <= 1.0


def test_train_with_the_torchvision_classifier_teacher(cli, tmp_path, fmnist_root) -> None:
    teacher = {"type": "torchvision", "model": "resnet18", "preset": "IMAGENET1K_V1"}
    recipe = example_recipe(tmp_path, fmnist_root, teacher=teacher, losses=[{"type": "logit_mse"}])
    result = cli("train", recipe, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "resize 256 bilinear, centre crop 224" in result.output  # torchvision's ResNet18 V1 transforms
    result = cli("train", recipe)
    assert result.exit_code == 0, result.output


def test_a_dense_teacher_refuses_label_monitors(cli, tmp_path, fmnist_root, flatten) -> None:
    recipe = example_recipe(tmp_path, fmnist_root)
    result = cli("train", recipe, "--set", "train.monitor=top1")
    assert result.exit_code == 1
    assert "needs labels" in flatten(result.stderr) and "Traceback" not in result.output
