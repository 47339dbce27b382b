"""PNG plots for MLflow artifacts and Dagster metadata."""

from __future__ import annotations

import base64
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def confusion_matrix_png(cm: np.ndarray, labels: list[str], path: str | Path, title: str = "Confusion matrix") -> Path:
    n = len(labels)
    size = max(6.0, 0.32 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i, j in zip(*np.nonzero(cm)):
        ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=6,
                color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="row-normalised")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def training_curves_png(log_history: list[dict], path: str | Path, title: str = "Intent model training",
                        extra: tuple[str, ...] = ()) -> Path:
    """Train and validation loss by step (from a Trainer's log_history), validation accuracy when
    logged, and any `extra` train-log keys (e.g. the KL and CE parts of a distillation loss)."""
    train = [(h["step"], h["loss"]) for h in log_history if "loss" in h]
    evals = [(h["step"], h["eval_loss"], h.get("eval_accuracy")) for h in log_history if "eval_loss" in h]
    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        ax.plot(*zip(*train), label="train loss")
    for key in extra:
        points = [(h["step"], h[key]) for h in log_history if key in h and "eval_loss" not in h]
        if points:
            ax.plot(*zip(*points), alpha=0.7, label=f"train {key}")
    if evals:
        ax.plot([e[0] for e in evals], [e[1] for e in evals], "o-", label="validation loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if evals and evals[0][2] is not None:
        ax2 = ax.twinx()
        ax2.plot([e[0] for e in evals], [e[2] for e in evals], "s--", color="tab:green", label="validation accuracy")
        ax2.set_ylabel("accuracy")
        ax2.legend(loc="center right")
    ax.legend(loc="upper right")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def png_markdown(path: str | Path, alt: str = "plot") -> str:
    """Inline a PNG as Markdown, the way Dagster metadata shows images."""
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f"![{alt}](data:image/png;base64,{data})"


def counts_png(counts: dict[str, dict[str, int]], path: str | Path, title: str) -> Path:
    """Stacked horizontal bars: rows per category (e.g. intent), split by a second key (e.g. source)."""
    cats = sorted(counts)
    stacks = sorted({k for c in counts.values() for k in c})
    fig, ax = plt.subplots(figsize=(7, max(3.0, 0.25 * len(cats) + 1)))
    left = np.zeros(len(cats))
    for s in stacks:
        vals = np.array([counts[c].get(s, 0) for c in cats])
        ax.barh(cats, vals, left=left, label=s)
        left += vals
    ax.set_xlabel("rows")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def model_comparison_png(rows: dict[str, dict[str, float]], metrics: list[tuple[str, str]], path: str | Path,
                         title: str) -> Path:
    """One bar panel per metric (key, axis label), one bar per model (row); missing values are skipped."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3.6), squeeze=False)
    names = list(rows)
    for ax, (key, label) in zip(axes[0], metrics):
        shown = [(n, rows[n][key]) for n in names if rows[n].get(key) is not None and np.isfinite(rows[n][key])]
        if shown:
            bars = ax.bar([n for n, _ in shown], [v for _, v in shown], color=plt.cm.tab10.colors[: len(shown)])
            ax.bar_label(bars, fmt="%.3g", fontsize=7)
        ax.set_title(label, fontsize=9)
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def utility_vs_epsilon_png(rows: dict[float, dict[str, float]], references: dict[str, dict[str, float]],
                           metrics: list[tuple[str, str]], path: str | Path, title: str) -> Path:
    """One panel per metric: the DP models against epsilon, references (base, no DP) as horizontal lines."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.6), squeeze=False)
    eps = sorted(rows)
    for ax, (key, label) in zip(axes[0], metrics):
        ax.plot(eps, [rows[e][key] for e in eps], marker="o", label="DP-SGD")
        for (name, ref), colour in zip(references.items(), plt.cm.tab10.colors[1:]):
            ax.axhline(ref[key], linestyle="--", color=colour, label=name)
        ax.set_xscale("log", base=2)
        ax.set_xticks(eps, [f"{e:g}" for e in eps])
        ax.set_xlabel("epsilon")
        ax.set_title(label, fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def rollout_png(history: list[dict], path: str | Path, title: str) -> Path:
    """The canary's weight over time, with each decision marked (green passed, red failed, grey other)."""
    fig, ax = plt.subplots(figsize=(7, 3.4))
    if history:
        t0 = min(h["started_at"] for h in history)
        xs = [h["finished_at"] - t0 for h in history]
        ax.step(xs, [h["weight"] for h in history], where="post", color="tab:blue")
        colours = {"Successful": "tab:green", "Failed": "tab:red"}
        for x, h in zip(xs, history):
            ax.scatter([x], [h["weight"]], color=colours.get(h["verdict"], "tab:grey"), zorder=3)
            ax.annotate(str(h["stage"]), (x, h["weight"]), fontsize=7, xytext=(3, 4), textcoords="offset points")
    ax.set_xlabel("seconds since the rollout started")
    ax.set_ylabel("canary weight (%)")
    ax.set_ylim(-5, 105)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
