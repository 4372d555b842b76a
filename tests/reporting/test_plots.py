"""Report figures: a curve of one epoch is a marked point that shows its value."""

from __future__ import annotations

from pathlib import Path

from srdistill.reporting.plots import _pyplot, draw_curve, training_curves


def test_a_single_epoch_is_a_marked_point_with_its_value() -> None:
    plt = _pyplot()
    fig, ax = plt.subplots()
    draw_curve(ax, [1.0], [0.8125], "run")
    (line,) = ax.get_lines()
    assert line.get_marker() == "o" and line.get_linestyle() == "None" and line.get_markersize() > 6
    assert [t.get_text() for t in ax.texts] == ["0.8125"]
    plt.close(fig)


def test_longer_curves_are_lines_without_labels() -> None:
    plt = _pyplot()
    fig, ax = plt.subplots()
    draw_curve(ax, [1.0, 2.0, 3.0], [0.5, 0.6, 0.7], "run")
    assert ax.get_lines()[0].get_linestyle() == "-" and not ax.texts
    plt.close(fig)


def test_training_curves_of_a_one_epoch_run(tmp_path: Path) -> None:
    csv = tmp_path / "metrics.csv"
    csv.write_text("epoch,val_top1,train_loss\n1,0.75,0.25\n")
    path = training_curves({"run": csv}, tmp_path / "curves.png")
    assert path is not None and path.stat().st_size > 0
