"""The faithfulness probe: numbers kept as written, invented numbers, names with their case."""

from pathlib import Path

from textcycle.evaluate.faithful import check, numbers, read_probe, summary

PROBE = Path(__file__).resolve().parents[1] / "data" / "faithful-en.tsv"


def test_numbers_are_whole_strings():
    assert numbers("Call 555-1234 at 6:30, $19.99 for 2 of 3") == {"555-1234": 1, "6:30": 1, "19.99": 1, "2": 1, "3": 1}


def test_check_by_hand():
    src = "We waited 45 minutes at Joe's Diner, 555-1234."
    ok = check(src, "We only waited 45 minutes at Joe's Diner, 555-1234!", ["Joe's Diner"])
    assert ok.numbers_kept and not ok.invented and ok.names_kept
    bad = check(src, "We waited 4 minutes at joe's diner, 555-1234 and 20.", ["Joe's Diner"])
    assert not bad.numbers_kept and bad.invented == ["20", "4"] and bad.missing_names == ["Joe's Diner"]
    twice = check("2 and 2", "2 and 3", [])  # the same number twice must stay twice
    assert not twice.numbers_kept and twice.invented == ["3"]
    assert summary([ok, bad, twice]) == {"sentences": 3, "numbers_kept": 1, "no_invented_number": 1, "names_kept": 2}


def test_the_probe_file():
    rows = read_probe(PROBE)
    assert len(rows) >= 30
    assert sum(bool(numbers(s)) for s, _ in rows) >= 25 and sum(bool(n) for _, n in rows) >= 30
    for sentence, names in rows:
        assert all(n in sentence for n in names), sentence
        assert check(sentence, sentence, names).names_kept  # a copy is faithful


def test_probe_markdown_counts_and_faults():
    from textcycle.evaluate.faithful import probe_markdown

    rows = [("We paid $20 at Joe's Diner.", ["Joe's Diner"]), ("Call 555-1234 now | ok", [])]
    md = probe_markdown(rows, ["We paid $25 at joe's diner.", "Call 555-1234 now | great"], n=2)
    assert md.splitlines()[0] == ("Every number kept in 1/2, no invented number in 1/2, every name kept in 1/2.")
    assert (
        "| We paid $20 at Joe's Diner. | We paid $25 at joe's diner. | number lost; invented 25; name lost: Joe's Diner |"
        in md
    )
    assert "| Call 555-1234 now \\| ok | Call 555-1234 now \\| great | - |" in md
    assert len(probe_markdown(rows, ["a", "b"], n=1).splitlines()) == 5  # counts, blank, head, rule, 1 row
