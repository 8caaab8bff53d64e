"""Training curves (textcycle.plots): every logged series is visible in the PNG."""

import matplotlib.axes

from textcycle.plots import TEXT_PANELS, plot_curves


def test_a_series_logged_once_is_drawn_with_markers(tmp_path, monkeypatch):
    # The Yelp run logs its 20 cycle-RL steps once: a one-point line draws nothing, so the RL
    # panels came out empty. Short series must carry point markers; long ones stay plain lines.
    calls = {}
    real_plot = matplotlib.axes.Axes.plot

    def spy(self, xs, ys, **kw):
        calls[kw["label"]] = (len(xs), kw.get("marker"))
        return real_plot(self, xs, ys, **kw)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", spy)
    history = [{"step": s, "warm/dae_to0": 1.0 / s} for s in range(1, 51)]
    history.append({"step": 60, "rl/reward_to0": 0.3, "phase": "rl"})
    plot_curves(history, tmp_path / "curves.png", TEXT_PANELS)
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert calls["rl/reward_to0"] == (1, "o")
    assert calls["warm/dae_to0"] == (50, None)
