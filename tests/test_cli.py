"""The command line: fast help, registry listing, and errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from srdistill import __version__
from srdistill.catalog import catalog

HEAVY = ("torch", "timm", "basicsr", "kornia", "torchvision", "torchmetrics", "cv2")


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["compare", "--help"], ["--version"]])
def test_help_does_not_import_heavy_packages(args: list[str]) -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from srdistill.cli import app\n"
        f"result = CliRunner().invoke(app, {args!r})\n"
        "assert result.exit_code == 0, result.output\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print(result.output)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "srdistill" in proc.stdout or "Usage" in proc.stdout


def test_console_script_help() -> None:
    proc = subprocess.run([sys.executable, "-m", "srdistill", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for command in ("train", "compare", "list"):
        assert command in proc.stdout


def test_no_arguments_shows_help(cli) -> None:
    result = cli()
    assert "Usage" in result.output
    assert "Traceback" not in result.output


def test_version(cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"srdistill {__version__}"


def test_list_shows_every_registry(cli) -> None:
    result = cli("list")
    assert result.exit_code == 0, result.output
    for section, registry in catalog().registries().items():
        assert f"{section} ({len(registry)})" in result.stdout
        for entry in registry:
            assert entry.name in result.stdout
            assert entry.summary[:40] in result.stdout


def test_list_one_registry(cli) -> None:
    result = cli("list", "students")
    assert result.exit_code == 0, result.output
    assert f"students ({len(catalog().students)})" in result.stdout
    for name in ("rrdb", "bicubic", "bilinear"):
        assert name in result.stdout
    assert "metrics (" not in result.stdout and "psnr" not in result.stdout


def test_list_unknown_registry(cli, flatten) -> None:
    result = cli("list", "student")
    assert result.exit_code == 1
    text = flatten(result.stderr)
    assert "No registry 'student'. Did you mean 'students'?" in text
    assert "students, teachers, degradations, losses, datasets, metrics" in text
    assert "Traceback" not in result.output
    assert cli("list", "nope").exit_code == 1


def test_malformed_recipe_lists_every_problem(cli, write_recipe, flatten) -> None:
    path = write_recipe(
        nmae="x",
        student={"type": "rrdb", "num_feat": "many"},
        losses=[{"type": "logit_mse", "wieght": 2}],
        train={"epochs": -1},
    )
    result = cli("train", path)
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    text = flatten(result.stderr)
    assert "4 problems" in text
    for problem in (
        "nmae: unknown key. Did you mean 'name'?",
        "student.num_feat: Input should be a valid integer",
        "losses.0.wieght: unknown key. Did you mean 'weight'?",
        "train.epochs: Input should be greater than or equal to 1",
    ):
        assert problem in text
    assert "Fix:" in text
    assert "Traceback" not in result.output
    assert not (path.parent / "runs").exists()


def test_bad_override_on_the_command_line(cli, write_recipe, flatten) -> None:
    result = cli("train", write_recipe(), "--set", "losses.3.weight=1", "-s", "train.epochs")
    assert result.exit_code == 1
    text = flatten(result.stderr)
    assert "index 3 is out of range" in text and "expected KEY.PATH=VALUE" in text
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["train", "compare"])
def test_missing_recipe_file(cli, tmp_path: Path, flatten, command: str) -> None:
    result = cli(command, tmp_path / "nope.yaml")
    assert result.exit_code == 1
    text = flatten(result.stderr)
    assert "Recipe not found" in text and str(tmp_path / "nope.yaml") in text
    assert "Traceback" not in result.output


def test_yaml_error_on_the_command_line(cli, tmp_path: Path, flatten) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("name: x\nteacher: {type: timm\n")
    result = cli("train", path, "--dry-run")
    assert result.exit_code == 1
    assert "not valid YAML (line 3" in flatten(result.stderr)


def test_missing_data_folder_is_reported_before_anything_is_written(cli, write_recipe, tmp_path, flatten) -> None:
    path = write_recipe(data={"type": "fashion_mnist", "root": str(tmp_path / "no_data")})
    result = cli("train", path)
    assert result.exit_code == 1
    text = flatten(result.stderr)
    assert f"data.root: {tmp_path / 'no_data'}" in text
    assert not (tmp_path / "runs").exists()


def test_main_reports_user_errors_without_traceback(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from rich.console import Console

    import srdistill.cli
    import srdistill.ui.console
    from srdistill.errors import UserError

    def boom() -> None:
        raise UserError("something is off", "do this")

    monkeypatch.setattr(srdistill.cli, "app", boom)
    monkeypatch.setattr(srdistill.ui.console, "err", Console(stderr=True, width=200))
    with pytest.raises(SystemExit) as info:
        srdistill.cli.main()
    assert info.value.code == 1
    assert "error: something is off" in capsys.readouterr().err


def test_interrupted_training_exits_130(cli, write_recipe, monkeypatch: pytest.MonkeyPatch) -> None:
    import srdistill.engine.train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(srdistill.engine.train, "train", interrupted)
    result = cli("train", write_recipe())
    assert result.exit_code == 130
    assert "interrupted" in result.stderr and "Traceback" not in result.output


def test_unwritable_json_path(cli, write_recipe, tmp_path: Path, flatten) -> None:
    (tmp_path / "blocker").write_text("a file, not a folder")
    result = cli("compare", write_recipe(), "--json", tmp_path / "blocker" / "out.json")
    assert result.exit_code == 1
    assert f"Cannot write {tmp_path / 'blocker' / 'out.json'}" in flatten(result.stderr)
    assert "Traceback" not in result.output


def test_list_does_not_import_the_heavy_model_packages() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from srdistill.cli import app\n"
        "result = CliRunner().invoke(app, ['list'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print([m for m in ('basicsr', 'cv2', 'skimage', 'timm', 'kornia', 'spandrel') if m in sys.modules])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
