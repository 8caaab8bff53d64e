"""Training curves as a PNG, for the text and the image trainer alike (TensorBoard has the same
scalars, live). A run passes its history (one dict per logged step) and its panel layout."""

from __future__ import annotations

import os
from pathlib import Path

TEXT_PANELS = {
    "warm-start losses": ("warm/",),
    "self-training: pairs kept, their reward, style, content": (
        "selftrain/kept",
        "selftrain/reward",
        "selftrain/style",
        "selftrain/content",
    ),
    "self-training losses": ("selftrain/pair", "selftrain/bt"),
    "RL: reward, style acc., content": ("rl/reward", "rl/style_acc", "rl/content"),
    "RL: back-translation loss": ("rl/bt",),
    "discriminator loss": ("disc/",),
    "dev (acc %, self-BLEU, G)": ("dev/acc", "dev/self_bleu", "dev/G"),
}
IMAGE_PANELS = {
    "adversarial losses": ("D_A", "D_B", "G_AB", "G_BA"),
    "content losses (weighted): cycle, identity, PatchNCE": ("cycle_", "idt_", "nce_"),
}


def plot_curves(history: list[dict], path: str | Path, panels: dict[str, tuple[str, ...]]) -> None:
    """One panel per entry of `panels` (title -> key prefixes), x = step; written atomically.
    Per-direction dev keys (`dev/acc_to0`, ...) are left to TensorBoard to keep panels readable."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, dict[str, tuple[list, list]]] = {p: {} for p in panels}
    for row in history:
        for k, v in row.items():
            if k == "step" or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            if k.startswith(("dev/acc_to", "dev/self_bleu_to")):
                continue
            for title, prefixes in panels.items():
                if k.startswith(prefixes):
                    xs, ys = series[title].setdefault(k, ([], []))
                    xs.append(row["step"])
                    ys.append(v)
    used = [p for p in panels if series[p]]
    if not used:
        return
    fig, axes = plt.subplots(len(used), 1, figsize=(8, 2.6 * len(used)), squeeze=False)
    for ax, title in zip(axes[:, 0], used):
        for k, (xs, ys) in sorted(series[title].items()):
            # a short series (e.g. 20 RL steps logged once) is invisible as a bare line: mark its points
            ax.plot(xs, ys, label=k, linewidth=1, marker="o" if len(xs) < 10 else None, markersize=3)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, path)
