"""What a rewrite must keep of its source: its numbers and names, as written.

A style rewrite changes the words that carry style; a price, a time, a phone number or a name is
content a reader checks. The Rewriter uses this module three ways:
- `mask_numbers`: a small model reads every token with a digit as the corpus's `_num_` (the
  corpus writes plain numbers so; "6:30", "800-555-0199" and "25th" it left whole, and a model
  with a small vocabulary garbles them), and the strings go back in order after;
- `kept`: whether a candidate rewrite keeps a source piece's numbers (the same strings, as often,
  none invented, each with its unit) and how many of its names; the Rewriter
  takes the best candidate that keeps every number, and leaves a piece unchanged when none does;
- `recase`: a small model writes lowercase; the words of its output that are names in the source
  get the source's case back;
- `invented_loop`: a candidate stuck in a loop ("噓 噓 噓 噓", "媽的媽的媽的") that its source does
  not have is not a rewrite; the Rewriter treats it as one that lost a number.

A number is kept with its unit, the English word right after it where that reads as one: a plural
("45 minutes", "20 chairs") or a unit word ("6:30 pm", "1 star") (`quantities`). A rewrite that
keeps the digits but not the unit ("We waited 45 great", "45 amazing minutes") has lost what the
number counts. Other words after a number may change ("Route 9 overcharged me" -> "... helped me").

A name is a word with a capital letter that does not start a sentence ("Costco", "JFK", "Joe's"),
or a whole-capitals word of two letters or more anywhere. A sentence's first word is not taken
for a name ("The", "We"): a name there is missed, never a common word invented.
"""

from __future__ import annotations

import re
from collections import Counter

from .textnorm import NUMBER_PLACEHOLDER, ends_in_abbreviation

NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")
# a number (or the corpus's placeholder) and the ASCII word right after it: "45 minutes", "6am";
# matched only where a number starts, so a long run of digits costs linear time, not quadratic
_QUANTITY = re.compile(rf"(?<!\d)(?<!\d[.,:/-])({NUMBER.pattern}|{NUMBER_PLACEHOLDER}) ?([A-Za-z]+)\b")
# singular units; a plural ("minutes", "chairs") is a unit by its -s
UNITS = frozenset(
    "am pm min hour minute second day week month year night star dollar buck cent mile person people time "
    "oz lb inch foot feet".split()
)
WORD = re.compile(r"[^\W\d_](?:[\w'’-]*\w)?")
_LETTERS = re.compile(r"[^\W\d_]+")
_RUN = re.compile(r"(.+?)\1+", re.S)  # a unit and its repeats, the shortest unit first
_SPACE = re.compile(r"\s+")


def numbers(text: str) -> Counter:
    """The number strings of a text ("$15.49" -> "15.49", "6:30", "800-555-0199"), counted."""
    return Counter(NUMBER.findall(text))


def quantities(text: str) -> Counter:
    """The (number, unit in lowercase) pairs of a text, counted, where the word after a number is
    a unit (see the module docstring): "waited 45 minutes" -> ("45", "minutes"); corpus form's
    "_num_ minutes" -> ("_num_", "minutes"); "Route 9 overcharged" has none."""
    pairs = ((n, w.lower()) for n, w in _QUANTITY.findall(text))
    return Counter((n, w) for n, w in pairs if w in UNITS or (len(w) > 2 and w.endswith("s")))


def same_numbers(source: str, candidate: str) -> bool:
    """Whether `candidate` has the number strings of `source`, as often, each with its unit."""
    return numbers(source) == numbers(candidate) and quantities(source) == quantities(candidate)


def names(text: str) -> list[str]:
    """The names of natural `text`, in order (see the module docstring)."""
    out = []
    for m in WORD.finditer(text):
        w = m.group(0)
        before = text[max(0, m.start() - 40) : m.start()].rstrip()  # enough for "... Dr."; linear in the text
        starts = not before or (before[-1] in ".!?…\n" and not ends_in_abbreviation(before))
        if w == "I" or w.startswith(("I'", "I’")):  # I, I'm, I've: capitalised, not names
            continue
        if w.isupper() and len(w) > 1 or (not starts and any(c.isupper() for c in w)):
            out.append(w)
    return out


def mask_numbers(corpus_form: str) -> tuple[str, list[str]]:
    """Every token with a digit -> `_num_`; the tokens in order. A `_num_` already there (text in
    the corpus's own form) is one of them, so it comes back as itself."""
    out, masked = [], []
    for tok in corpus_form.split(" "):
        if tok == NUMBER_PLACEHOLDER or any(c.isdigit() for c in tok):
            masked.append(tok)
            tok = NUMBER_PLACEHOLDER
        out.append(tok)
    return " ".join(out), masked


def kept(source: str, candidate: str, source_names: list[str], corpus_form: bool = False) -> tuple[bool, int]:
    """(every number of `source` kept with its unit and none invented, how many of
    `source_names` that occur in `source` are in `candidate`). Placeholders count as numbers.
    `corpus_form`: the texts are lowercase and tokenised ("joe 's"), so names are compared by
    their lowercase letter runs."""
    same = same_numbers(source, candidate) and _placeholders(source) == _placeholders(candidate)
    parts = (lambda t: _LETTERS.findall(t.lower())) if corpus_form else WORD.findall
    have, present = Counter(parts(candidate)), Counter(parts(source))
    score = 0
    for name in source_names:
        wanted = Counter(parts(name))
        if wanted and all(present[w] >= c for w, c in wanted.items()):
            score += all(have[w] >= c for w, c in wanted.items())
    return same, score


def loops(text: str) -> list[str]:
    """The runs of `text` (spaces ignored) that repeat a unit with a letter or digit: a character
    4 times or more ("謝謝謝謝", "QQQQ"), a longer unit 3 times or more ("媽的媽的媽的", "so good so
    good so good"). Laughter ("哈哈哈") and a doubled word stay below the bar."""
    out = []
    for m in _RUN.finditer(_SPACE.sub("", text)):
        unit, run = m.group(1), m.group(0)
        if any(c.isalnum() for c in unit) and len(run) // len(unit) >= (4 if len(unit) == 1 else 3):
            out.append(run)
    return out


def invented_loop(source: str, candidate: str) -> bool:
    """Whether `candidate` has a loop (`loops`) that `source` does not have as written."""
    flat = _SPACE.sub("", source)
    return any(run not in flat for run in loops(candidate))


def _placeholders(text: str) -> int:
    return text.split(" ").count(NUMBER_PLACEHOLDER)


def recase(output: str, source: str, source_names: list[str] | None = None) -> str:
    """The words of `output` that are, in lowercase, names of `source`, in the source's case: as
    many of each as the source has, and none that the source also writes in lowercase ("May 3"
    and "you may" leave "may" alone). `source_names`: `names(source)`, when the caller has it."""
    if source_names is None:
        source_names = names(source)
    if not source_names:
        return output
    lower = Counter(w for w in WORD.findall(source) if w.islower())
    left = Counter(n for n in source_names if n.lower() not in lower)
    case = {n.lower(): n for n in left}

    def fix(m: re.Match) -> str:
        name = case.get(m.group(0).lower())
        if name is None or not left[name]:
            return m.group(0)
        left[name] -= 1
        return name

    return WORD.sub(fix, output) if case else output
