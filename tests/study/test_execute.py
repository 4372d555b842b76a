"""``srdistill study``: every run through the engine, finished runs skipped, another study refused, bad
studies stopped at --dry-run with nothing written, and the runs dispatched through submitit."""

from __future__ import annotations

import json

import pytest

from srdistill.study.execute import waves
from srdistill.study.layout import lay_out
from srdistill.study.schema import load_study
from tests.study.conftest import TINY

ROUTES = [
    {"name": "original", "kind": "original"},
    {"name": "bicubic", "kind": "bicubic"},
    {"name": "lr_finetune", "kind": "lr_finetune", "set": TINY},
    {"name": "pixel", "kind": "pixel", "set": TINY},
    {"name": "darionet", "kind": "darionet", "start": "pixel", "set": TINY},
]


#: the base classifier's fit, once per seed
CLASSIFIER = {
    "train": {"epochs": 1, "batch_size": 16, "max_steps_per_epoch": 3, "optimizer": {"name": "adamw", "lr": 2e-3}}
}


def without_seconds(data):  # type: ignore[no-untyped-def]
    """A study's JSON without what the clock decides (train seconds)."""
    if isinstance(data, dict):
        return {k: without_seconds(v) for k, v in data.items() if "seconds" not in k}
    return [without_seconds(v) for v in data] if isinstance(data, list) else data


def test_dry_run_lists_every_run_with_its_epochs_and_flops_and_writes_nothing(cli, write_study, tmp_path) -> None:
    result = cli("study", write_study(classifier=CLASSIFIER, routes=ROUTES), "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for run in ("classifier", "lr_finetune", "pixel", "darionet", "compare"):
        assert run in out
    assert "8 runs and 2 compares checked. Nothing was written." in out  # 3 routes and the classifier, 2 seeds
    assert "no training: original, bicubic" in out
    assert not (tmp_path / "study").exists()


def test_a_study_runs_every_route_then_a_rerun_skips_them_and_ends_the_same(cli, write_study, tmp_path) -> None:
    study = write_study(classifier=CLASSIFIER, routes=ROUTES)
    result = cli("study", study, "--json", tmp_path / "out.json")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "study"
    for name in ("routes.md", "results.json", "pareto.png", "report.html", "study.json"):
        assert (folder / name).is_file(), name
    assert (folder / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((tmp_path / "out.json").read_text())
    assert [r["name"] for r in data["rows"]] == ["original", "bicubic", "lr_finetune", "pixel", "darionet"]
    darionet = next(r for r in data["rows"] if r["name"] == "darionet")
    assert len(darionet["top1"]["per_seed"]) == 2 and darionet["top1"]["std"] is not None
    assert darionet["train_tflop"] > next(r for r in data["rows"] if r["name"] == "pixel")["train_tflop"]
    assert [p["question"] for p in data["recommendation"]] == [
        "Best route at this budget",
        "Best if the classifier must stay as it is",
        "Best if one classifier must also serve full-size images (within 1 point)",
    ]
    assert len(data["pairs"]) == 5 * 4 // 2
    assert "Best if one classifier must also serve full-size images" in result.stdout
    assert "data:image/png;base64," in (folder / "report.html").read_text()

    again = cli("study", study, "--json", tmp_path / "again.json")
    assert again.exit_code == 0, again.output
    assert again.stderr.count("already holds this finished run") == 8  # 4 runs a seed, none trained again
    assert json.loads((tmp_path / "again.json").read_text()) == data


def test_another_study_in_the_same_folder_is_refused_before_anything_trains(
    cli, write_study, tmp_path, flatten
) -> None:
    assert cli("study", write_study(routes=ROUTES[:3])).exit_code == 0
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "study").rglob("*"))
    changed = write_study(
        routes=[*ROUTES[:2], {"name": "lr_finetune", "kind": "lr_finetune", "set": [*TINY, "train.epochs=3"]}]
    )
    result = cli("study", changed)
    assert result.exit_code == 1
    assert "holds another study: the runs" in flatten(result.output) and "lr_finetune" in result.output
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "study").rglob("*")) == before


def test_judges_score_every_row_the_original_classifier_reads(cli, write_study, fmnist_root, tmp_path) -> None:
    from tests.conftest import tiny_recipe

    judge = {
        "name": "second",
        "teacher": tiny_recipe(tmp_path, fmnist_root)["teacher"],
        "train": {"epochs": 1, "batch_size": 16, "max_steps_per_epoch": 2},
    }
    result = cli(
        "study", write_study(judges=[judge], routes=[ROUTES[1], ROUTES[2], ROUTES[3]]), "--json", tmp_path / "j.json"
    )
    assert result.exit_code == 0, result.output
    judged = json.loads((tmp_path / "j.json").read_text())["judges"]["second"]
    assert list(judged["rows"]) == ["bicubic", "pixel"]  # not lr_finetune: its own classifier reads it
    assert len(judged["rows"]["pixel"]["per_seed"]) == 2 and judged["pairs"][0]["better"] in ("bicubic", "pixel")
    assert "Under second, gaps larger than the spread" in (tmp_path / "study" / "routes.md").read_text()


#: a bad study's fields, and what its one-screen error says
BAD = {
    "missing recipe": ({"routes": [{"name": "x", "kind": "recipe", "recipe": "gone.yaml"}]}, "recipe file not found"),
    "unknown kind": ({"routes": [{"name": "x", "kind": "pixle"}]}, "unknown route kind 'pixle'"),
    "no seeds": ({"seeds": []}, "seeds: List should have at least 1 item"),
    "duplicate seed": ({"seeds": [1, 1]}, "each seed once: 1 repeated"),
    "budget under a step": ({"budget": 1e-9}, "less than one training step"),
    "two routes, one folder": (
        {"routes": [*ROUTES[:3], {"name": "LR_finetune", "kind": "lr_mixed"}]},
        "two routes would write one folder",
    ),
    "classifier of other classes": (
        {"routes": [{"name": "f", "kind": "lr_finetune", "set": ["teacher.num_classes=3"]}]},
        "3 classes but the data set has 10",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_study_stops_at_dry_run_with_one_screen_and_writes_nothing(
    cli, write_study, tmp_path, flatten, case
) -> None:
    fields, says = BAD[case]
    result = cli("study", write_study(**fields), "--dry-run")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert says in flatten(result.output) and "Fix:" in result.output
    assert not (tmp_path / "study").exists()


def test_waves_never_put_a_run_beside_one_it_needs(write_study) -> None:
    layout = lay_out(load_study(write_study(classifier=CLASSIFIER, routes=ROUTES)))
    labels = [[label.split(": ")[1] for label, _, _ in wave] for wave in waves(layout)]
    assert labels == [["classifier"] * 2, ["lr_finetune", "pixel"] * 2, ["darionet"] * 2, ["compare"] * 2]


def test_submitit_local_dispatch_ends_as_a_local_study_does(cli, write_study, tmp_path) -> None:
    pytest.importorskip("submitit")
    routes = [ROUTES[1], ROUTES[3], ROUTES[4]]
    local = cli("study", write_study(routes=routes, dir=str(tmp_path / "local")), "--json", tmp_path / "local.json")
    assert local.exit_code == 0, local.output
    study = write_study(routes=routes, dir=str(tmp_path / "jobs"))
    result = cli("study", study, "--dispatch", "submitit", "--cluster", "local", "--json", tmp_path / "jobs.json")
    assert result.exit_code == 0, result.output
    assert "job(s) through submitit" in result.stderr
    assert list((tmp_path / "jobs" / "submitit").glob("*_log.out"))  # each job's log, where submitit keeps it
    local_data, jobs_data = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("local", "jobs"))
    assert without_seconds(jobs_data) == without_seconds(local_data)


@pytest.mark.slow
def test_a_study_killed_mid_run_and_rerun_ends_with_the_same_json(write_study, tmp_path) -> None:
    import signal

    from tests.engine.test_resume import finish, srdistill

    steps = ["train.batch_size=8", "train.max_steps_per_epoch=4", "train.checkpoint_every=1", "train.log_every=1"]
    routes = [
        {"name": "lr_finetune", "kind": "lr_finetune", "set": steps},
        {"name": "pixel", "kind": "pixel", "set": [*steps, "train.epochs=2"]},
    ]
    whole = write_study(routes=routes, dir=str(tmp_path / "whole"))
    code, out = finish(srdistill("study", str(whole), "--json", str(tmp_path / "whole.json")))
    assert code == 0, out

    killed = write_study(routes=routes, dir=str(tmp_path / "killed"))
    proc = srdistill("study", str(killed), "--json", str(tmp_path / "killed.json"))
    assert proc.stdout is not None
    seen, in_seed_1 = [], False
    for line in proc.stdout:  # kill half-way through seed 1's first route, a snapshot or two in
        seen.append(line)
        in_seed_1 = in_seed_1 or line.startswith("== seed 1: lr_finetune")
        if in_seed_1 and line.startswith("epoch 1/2 3/4 "):
            break
    else:
        raise AssertionError("the study ended before the step to interrupt:\n" + "".join(seen))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed.json").exists()
    code, out = finish(srdistill("study", str(killed), "--json", str(tmp_path / "killed.json")))
    assert code == 0, out
    assert "resuming" in out and out.count("already holds this finished run") == 2  # seed 0's two runs
    whole_data, killed_data = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("whole", "killed"))
    assert without_seconds(killed_data) == without_seconds(whole_data)
