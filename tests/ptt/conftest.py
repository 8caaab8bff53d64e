"""Fixtures of the PTT tests: a crawler wired to a fake PTT and a fake clock, the bundled sample."""

import pytest

from textcycle.ptt.crawl import Crawler

from .pages import REPO, FakeTime


@pytest.fixture
def make_crawler():
    """make_crawler(folder, fetch, **kw) -> (crawler of the Food board saving under folder/raw,
    its fake clock, its log lines); delay 1 s, no real waiting."""

    def make(folder, fetch, **kw):
        t = FakeTime()
        logs = []
        c = Crawler(folder / "raw", "Food", fetch=fetch, delay=1.0, sleep=t.sleep, clock=t.clock, log=logs.append, **kw)
        return c, t, logs

    return make


@pytest.fixture
def sample_dir():
    """data/ptt-sample: three invented article pages."""
    return REPO / "data" / "ptt-sample"
