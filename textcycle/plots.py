"""A PNG of the training curves (TensorBoard has the same scalars, live)."""
from __future__ import annotations

from pathlib import Path


def plot_history(history: list[dict], path: str | Path) -> None:
    """One panel per metric family (losses, rewards, dev metrics), x = step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = {
        "warm-start losses": ("warm/",),
        "RL: reward, style acc., content": ("rl/reward", "rl/style_acc", "rl/content"),
        "RL: back-translation loss": ("rl/bt",),
        "discriminator loss": ("disc/",),
        "dev (acc %, self-BLEU, G)": ("dev/acc", "dev/self_bleu", "dev/G"),
    }
    series: dict[str, dict[str, list]] = {g: {} for g in groups}
    for row in history:
        for k, v in row.items():
            if not isinstance(v, (int, float)) or k == "step":
                continue
            for g, prefixes in groups.items():
                if k.startswith(prefixes) and not k.startswith("dev/acc_to") and not k.startswith("dev/self_bleu_to"):
                    xs, ys = series[g].setdefault(k, ([], []))
                    xs.append(row["step"])
                    ys.append(v)
    used = [g for g in groups if series[g]]
    fig, axes = plt.subplots(len(used) or 1, 1, figsize=(8, 2.6 * max(1, len(used))), squeeze=False)
    for ax, g in zip(axes[:, 0], used):
        for k, (xs, ys) in sorted(series[g].items()):
            ax.plot(xs, ys, label=k, linewidth=1)
        ax.set_title(g, fontsize=10)
        ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
