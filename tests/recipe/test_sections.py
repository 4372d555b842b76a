"""The fixed sections: compare's rows and judges, ensemble members, runtime switches."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from srdistill.recipe.sections import CheckpointRef, CompareConfig, JudgeConfig, RuntimeConfig


def test_checkpoint_rows_need_their_own_names() -> None:
    with pytest.raises(ValidationError, match="names a built-in row"):
        CompareConfig(checkpoints=[CheckpointRef(name="bicubic", path="x.safetensors")])
    with pytest.raises(ValidationError, match="two checkpoints are named 'a'"):
        CompareConfig(checkpoints=[CheckpointRef(name="a", path="x.safetensors"), CheckpointRef(name="a", path="y")])


def test_judge_names_differ_and_metrics_are_registered() -> None:
    judge = {"name": "j", "teacher": {"type": "timm"}}
    with pytest.raises(ValidationError, match="used more than once: j"):
        CompareConfig(judges=[JudgeConfig.model_validate(judge), JudgeConfig.model_validate(judge)])
    with pytest.raises(ValidationError, match=r"Unknown metric 'topp5'\. Did you mean 'top5'"):
        CompareConfig(metrics=("top1", "topp5"))


def test_runtime_defaults() -> None:
    runtime = RuntimeConfig()
    assert runtime.channels_last and runtime.amp == "none" and not runtime.cache_teacher
