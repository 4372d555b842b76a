"""The report's figures (matplotlib, headless): each function writes one PNG and returns its path."""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path
from typing import Any

import torch


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    _pyplot().close(fig)
    return path


def read_curves(metrics_csv: Path) -> dict[str, list[float]]:
    with metrics_csv.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    columns: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            with contextlib.suppress(TypeError, ValueError):  # non-numeric columns are not plotted
                columns.setdefault(key, []).append(float(value))
    return columns


CURVES = (("val_top1", "validation top-1"), ("val_ce_gap", "validation CE(SR) − CE(original)"),
          ("val_psnr", "validation PSNR (dB)"), ("train_loss", "training loss"))  # fmt: skip


def training_curves(runs: dict[str, Path], path: Path) -> Path | None:
    """Validation and training values per epoch of each run (the paper's Fig. 2)."""
    data = {name: read_curves(csv_path) for name, csv_path in runs.items() if csv_path.is_file()}
    shown = [(key, title) for key, title in CURVES if any(key in d for d in data.values())]
    if not shown:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 3.4), squeeze=False)
    for ax, (key, title) in zip(axes[0], shown, strict=True):
        for name, columns in data.items():
            if key in columns:
                draw_curve(ax, columns["epoch"], columns[key], name)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    return _save(fig, path)


def draw_curve(ax: Any, xs: list[float], ys: list[float], label: str) -> None:
    """One run's values per epoch; a single epoch is a large marked point labelled with its value
    (a lone line-less dot is easy to miss and says nothing of its value)."""
    if len(ys) == 1:
        ax.plot(xs, ys, marker="o", markersize=9, linestyle="none", label=label)
        ax.annotate(f"{ys[0]:.4g}", (xs[0], ys[0]), textcoords="offset points", xytext=(8, 6), fontsize=9)
    else:
        ax.plot(xs, ys, marker="o", label=label)


def change_distribution(before: torch.Tensor, after: torch.Tensor, method: str, path: Path) -> Path:
    """How per-class top-1 changes from originals to ``method`` (the paper's Fig. 3)."""
    plt = _pyplot()
    change = (after - before).numpy()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.hist(change, bins=min(30, max(5, len(change) // 3)), color="#4c72b0", edgecolor="white")
    left.axvline(0, color="black", lw=1)
    left.set_title(f"per-class top-1: {method} − original")
    left.set_xlabel("change in top-1")
    left.set_ylabel("classes")
    right.scatter(before.numpy(), change, s=14, alpha=0.7)
    right.axhline(0, color="black", lw=1)
    right.set_title("change against the class's top-1 on originals")
    right.set_xlabel("top-1 on originals (harder ←)")
    right.set_ylabel("change")
    return _save(fig, path)


def class_bars(
    classes: list[int], names: tuple[str, ...], values: dict[str, torch.Tensor], title: str, ylabel: str, path: Path
) -> Path:
    """Grouped bars of ``values[method][class]`` for the chosen classes (the paper's Figs. 4 and 5)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(classes) * max(1, len(values)) / 2 + 3), 3.8))
    width = 0.8 / max(1, len(values))
    for i, (method, v) in enumerate(values.items()):
        xs = [c + i * width for c in range(len(classes))]
        ax.bar(xs, [float(v[k]) for k in classes], width=width, label=method)
    ax.set_xticks([c + width * (len(values) - 1) / 2 for c in range(len(classes))])
    ax.set_xticklabels([_short(names[k]) for k in classes], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def reconstruction_grid(
    classes: list[int], names: tuple[str, ...], examples: dict[int, list[dict[str, torch.Tensor]]],
    columns: list[str], title: str, path: Path,
) -> Path:  # fmt: skip
    """Rows of examples of each class: original | degraded | each method (the paper's Figs. 6 and 7)."""
    plt = _pyplot()
    rows = [(k, ex) for k in classes for ex in examples.get(k, [])]
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(1.6 * len(columns), 1.7 * len(rows)), squeeze=False)
    for r, (k, example) in enumerate(rows):
        for c, column in enumerate(columns):
            ax = axes[r][c]
            image = example[column].float().clamp(0, 1)
            shown = image[0] if image.shape[0] == 1 else image.permute(1, 2, 0)
            ax.imshow(
                shown.numpy(), cmap="gray" if image.shape[0] == 1 else None, vmin=0, vmax=1, interpolation="nearest"
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(column, fontsize=8)
            if c == 0:
                ax.set_ylabel(_short(names[k]), fontsize=8)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def _short(name: str, width: int = 22) -> str:
    name = name.split(",")[0]
    return name if len(name) <= width else name[: width - 1] + "…"
