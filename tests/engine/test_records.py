"""What a run writes: one column and file name rule for one trained network or several."""

from __future__ import annotations

from types import SimpleNamespace

from srdistill.engine.records import column
from srdistill.engine.runs import weights_file, written_by_a_run


def test_columns_carry_the_network_only_when_there_are_several() -> None:
    one = [SimpleNamespace(name="student")]
    two = [SimpleNamespace(name="student"), SimpleNamespace(name="classifier")]
    assert column("lr", "student", one) == "lr"  # type: ignore[arg-type]
    assert column("lr", "classifier", two) == "lr_classifier"  # type: ignore[arg-type]


def test_the_first_networks_files_keep_their_plain_names() -> None:
    assert weights_file("best", "student", first=True) == "best.safetensors"
    assert weights_file("raw", "student", first=True) == "last_raw.safetensors"
    assert weights_file("last", "classifier", first=False) == "classifier_last.safetensors"
    for name in ("best.safetensors", "classifier_last_raw.safetensors", "metrics.csv", "resume"):
        assert written_by_a_run(name), name
    assert not written_by_a_run("my_notes.txt") and not written_by_a_run("best.safetensors.bak")
