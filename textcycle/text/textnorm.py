"""Turning natural text into a corpus's form and back.

The Yelp corpus (Shen et al.) is lowercased and tokenised: punctuation split off (`good .`),
clitics split (`it 's`, `was n't`), numbers as `_num_`. Users type natural text, and human
references are natural text too, so every system output and reference goes through
`yelp_tokenize` before scoring, and rewrites go through `yelp_detokenize` before printing.
Chinese text is kept as characters (SentencePiece needs no word segmentation); `zh_normalize`
folds width, punctuation, spaces and emoji into one form, and `zh_convert` converts between
Traditional and Simplified characters (OpenCC, a dependency of textcycle).

This file is over 400 lines: it is the one place for both languages' corpus forms and their way
back (normalize and denormalize, numbers, symbols, pieces), which must change together.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata

from ..errors import TextcycleError

# clitics as the Yelp corpus splits them: "don't" -> "do n't", "it's" -> "it 's"
_NT = re.compile(r"(\w)n['’`]t\b", re.IGNORECASE)
_CLITIC = re.compile(r"(\w)['’`](s|re|ve|ll|d|m)\b", re.IGNORECASE)
# always split off; "/", "+", "-" stay inside words as in the corpus ("a/c", "a+", "go-to")
_PUNCT = re.compile(r"([;!?()\[\]{}~&%$#@^=|\\<>])")
_COMMA_COLON = re.compile(r"(?<!\d)([,:])|([,:])(?!\d)")  # "1,000" and "6:30" stay whole
_QUOTE = re.compile(r"(^|\s)['`’](?!(?:s|re|ve|ll|d|m|em)\b)|(?<!n)['`’](\s|$)")
_DQUOTE_OPEN = re.compile(r'(^|[\s(\[{])"')
_PROTECT = re.compile(r"``|''|<[a-z]+>")  # PTB quotes and <unk>-style tokens are kept whole
# a number token of the corpus ("5", "1,000", "5.99"); "6:30", "3-4", "2nd" are not numbers here
NUMBER_TOKEN = re.compile(r"\d+(?:[.,]\d+)*")
NUMBER_PLACEHOLDER = "_num_"  # a number in the corpus form (Yelp's own convention)
_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\ufeff]")
# words whose final period belongs to them (the corpus keeps "dr." and "mr." whole)
ABBREVIATIONS = {"dr", "mr", "mrs", "ms", "st", "jr", "sr", "vs", "mt", "ft", "prof"}
_DOTTED = re.compile(r"(?:[a-z]\.)+[a-z]?\.?")  # a.m. p.m. e.g. i.e. u.s.


def clean(text: str) -> str:
    """Drop control characters and byte-order marks; fold runs of white space."""
    text = _CONTROL.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def _split_period(tok: str) -> str:
    """'parts.' -> 'parts .', 'good...' -> 'good ...'; 'dr.', 'a.m.', '...' and '.' stay."""
    if not tok.endswith(".") or len(tok) == 1:
        return tok
    stem = tok.rstrip(".")
    dots = tok[len(stem) :]
    if not stem:  # "..." itself
        return tok
    if len(dots) > 1:  # an ellipsis glued to a word
        return f"{stem} {dots}"
    if stem in ABBREVIATIONS or _DOTTED.fullmatch(tok):
        return tok
    return f"{stem} ."


def yelp_tokenize(text: str, numbers: bool = True) -> str:
    """Lowercase and tokenise like the Shen et al. Yelp files (PTB-style).

    Natural text ("It's great, isn't it?", "parts.", '"free"') gets the corpus form
    ("it 's great , is n't it ?", "parts .", "`` free ''"), and text already in corpus form is
    left unchanged (idempotent): PTB quotes `` '', "--", "w/", "a+", "go-to", "6:30", "1/2",
    "dr." and <unk> stay whole. With `numbers`, number tokens ("5", "1,000", "5.99") become
    `_num_` as in the corpus; "6:30", "3-4", "2nd" stay. Evaluation uses numbers=False, because
    the test sentences and references keep their digits.
    """
    text = clean(text).lower()
    text = text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    kept: list[str] = []

    def _keep(m: re.Match) -> str:
        kept.append(m.group(0))
        return f" \ue000{chr(0xE100 + len(kept) - 1)} "

    text = _DQUOTE_OPEN.sub(r"\1``", text)  # PTB quotes: "free" -> `` free ''
    text = text.replace('"', "''")
    text = _PROTECT.sub(_keep, text)
    text = re.sub(r"\.{2,}", lambda m: f" {m.group(0)} ", text)  # "um...we" -> "um ... we"
    text = re.sub(r"\bcan't\b", "ca n't", text)
    text = re.sub(r"\bwon't\b", "wo n't", text)
    text = re.sub(r"\bcannot\b", "can not", text)
    text = _NT.sub(r"\1 n't", text)
    text = _CLITIC.sub(r"\1 '\2", text)
    text = _PUNCT.sub(r" \1 ", text)
    text = _COMMA_COLON.sub(lambda m: f" {m.group(1) or m.group(2)} ", text)
    text = re.sub(r"(?<!\S)\.\s+\.\s+\.(?!\S)", " ... ", text)
    text = re.sub(r"--+", " -- ", text)
    text = _QUOTE.sub(r"\1 ' \2", text)
    toks = []
    for tok in text.split():
        if tok.startswith("\ue000") and len(tok) == 2:
            toks.append(kept[ord(tok[1]) - 0xE100])
            continue
        tok = _split_period(tok)
        if numbers:
            tok = " ".join(NUMBER_PLACEHOLDER if NUMBER_TOKEN.fullmatch(t) else t for t in tok.split())
        toks.append(tok)
    return " ".join(toks)


def number_tokens(text: str) -> list[str]:
    """The numbers of natural `text` that the corpus form writes as `_num_`, in order (the same
    tokenisation and the same `NUMBER_TOKEN` as `yelp_tokenize`, so "6:30" is not one)."""
    return [t for t in yelp_tokenize(text, numbers=False).split() if NUMBER_TOKEN.fullmatch(t)]


def restore_numbers(rewrite: str, numbers: list[str]) -> str:
    """Put the source's numbers back into a corpus-form rewrite, in order, one per `_num_`
    ("some" once they run out)."""
    numbers = list(numbers)
    return " ".join(
        (numbers.pop(0) if numbers else "some") if tok == NUMBER_PLACEHOLDER else tok for tok in rewrite.split(" ")
    )


def protect_symbols(text: str, unknown) -> tuple[str, list[tuple[int, str]]]:
    """`text` without the characters a model's vocabulary lacks (`unknown(ch)` is true: the
    rewriter's emoji and other symbols), and each run of them with its offset in the shortened text.

    A model sees such a character as <unk>, which training uses as its mask token, so it fills
    the gap with a word of its own (👍 became 推) and the character is lost. Taken out here and
    put back by `restore_symbols`, it survives the rewrite, the way `_num_` numbers do. Spaces
    between two unknown characters belong to their run; a space left doubled is dropped."""
    out, runs, i = [], [], 0
    while i < len(text):
        if text[i].isspace() or not unknown(text[i]):
            out.append(text[i])
            i += 1
            continue
        j = i + 1
        while j < len(text) and (
            unknown(text[j]) or text[j].isspace() and text[j:].lstrip()[:1] and unknown(text[j:].lstrip()[0])
        ):
            j += 1
        if out and out[-1] == " " and text[j : j + 1] == " ":
            j += 1  # "great 😍 ." -> "great ." with one space
        runs.append((len(out), text[i:j].strip()))
        i = j
    stripped = "".join(out)
    lead = len(stripped) - len(stripped.lstrip())
    core = stripped.strip()
    return core, [(min(max(0, k - lead), len(core)), run) for k, run in runs]


def restore_symbols(rewrite: str, stripped: str, runs: list[tuple[int, str]], spaced: bool = False) -> str:
    """Put `protect_symbols`' runs back into a rewrite of `stripped`: at the start or the end
    where they were there, else right after the source character before them, found in the
    rewrite by alignment (`difflib`); after the rewritten span where that character changed.
    `spaced` (English corpus form): each run as a token of its own."""
    if not runs:
        return rewrite
    import difflib

    blocks = difflib.SequenceMatcher(None, stripped, rewrite, autojunk=False).get_opcodes()

    def where(k: int) -> int:
        if k <= 0:
            return 0
        if k >= len(stripped):
            return len(rewrite)
        for tag, i1, i2, j1, j2 in blocks:
            if i1 < k <= i2:  # the block holding stripped[k - 1]
                return j1 + (k - i1) if tag == "equal" else j2
        return len(rewrite)

    out, last = [], 0
    for pos, run in sorted(((where(k), run) for k, run in runs), key=lambda x: x[0]):
        out += [rewrite[last:pos], f" {run} " if spaced else run]
        last = pos
    out.append(rewrite[last:])
    text = "".join(out)
    return _SPACES.sub(" ", text).strip() if spaced else text


def yelp_detokenize(text: str) -> str:
    """Undo the corpus tokenisation for display: "it 's good ." -> "It's good."."""
    text = text.replace(" n't", "n't").replace("ca n't", "can't").replace("wo n't", "won't")
    text = re.sub(r"can't", "can't", text)
    text = re.sub(r" '(s|re|ve|ll|d|m)\b", r"'\1", text)
    text = re.sub(r"\s+([.,!?;:%)\]])", r"\1", text)
    text = re.sub(r"([(\[$])\s+", r"\1", text)
    text = text.replace(NUMBER_PLACEHOLDER, "#")
    text = re.sub(r"\bi\b", "I", text)
    text = _SPACES.sub(" ", text).strip()
    # capitalise the first letter of each sentence
    return re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


# Chinese: what counts as a "wide" character (CJK ideographs, bopomofo, kana, hangul, CJK
# punctuation, full-width forms). ASCII punctuation next to one becomes full-width.
_WIDE_CHARS = (
    "\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f"
)
_WIDE = re.compile(f"[{_WIDE_CHARS}]")
_EMOJI_CHARS = "\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff"
_EMOJI = re.compile(f"[{_EMOJI_CHARS}]")
_EMOJI_MODIFIERS = re.compile("[\ufe0e\ufe0f\u20e3\U0001f3fb-\U0001f3ff]")
_EMOJI_REPEAT = re.compile(f"([{_EMOJI_CHARS}])\\1{{3,}}")
# spaces next to CJK punctuation, curly quotes, "…", "—" or emoji carry nothing and are dropped;
# spaces between words (Chinese or Latin) are kept: PTT-style "太鹹了吧 根本吃不下去" uses them
_ZH_PUNCT_CHARS = "\u3000-\u303f\ufe30-\ufe4f\uff00-\uffef\u2018\u2019\u201c\u201d\u2026\u2014"
_ZH_SPACE = re.compile(f"(?<=[{_ZH_PUNCT_CHARS}{_EMOJI_CHARS}])\\s+|\\s+(?=[{_ZH_PUNCT_CHARS}{_EMOJI_CHARS}])")
_HALF_PUNCT_RUN = re.compile(r"[,!?:;()]+")
_TO_FULL = str.maketrans({",": "，", "!": "！", "?": "？", ":": "：", ";": "；", "(": "（", ")": "）"})
_DOT_RUN = re.compile(r"\.{2,}|。{2,}")
_ONE_DOT = re.compile(r"(?<=[^\x00-\x7f])\.(?![A-Za-z0-9.])")
_PUNCT_REPEAT = re.compile(r"([，。！？、~!?,])\1{3,}")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);")


def _context(s: str, start: int, end: int) -> tuple[str, str]:
    """The nearest non-space characters left of `start` and right of `end` ("" at the ends)."""
    return s[:start].rstrip()[-1:], s[end:].lstrip()[:1]


def _is_wide(ch: str) -> bool:
    return bool(ch) and bool(_WIDE.match(ch))


def _zh_punct(text: str) -> str:
    """ASCII punctuation in Chinese context -> full-width; ellipses -> "……"; "好." -> "好。"."""

    def dots(m):
        left, right = _context(m.string, m.start(), m.end())
        return "……" if _is_wide(left) or _is_wide(right) or "。" in m.group() else "..."

    def one_dot(m):  # a single "." right after a CJK character ends the sentence
        left = m.string[m.start() - 1 : m.start()]
        return "。" if _is_wide(left) else "."

    def run(m):
        left, right = _context(m.string, m.start(), m.end())
        return m.group().translate(_TO_FULL) if _is_wide(left) or _is_wide(right) else m.group()

    text = _DOT_RUN.sub(dots, text)
    text = _ONE_DOT.sub(one_dot, text)
    text = _HALF_PUNCT_RUN.sub(run, text)
    return _PUNCT_REPEAT.sub(r"\1\1\1", text)


def zh_normalize(text: str, emoji: str = "keep", convert: str | None = None) -> str:
    """Normalise Chinese (and mixed Chinese/English) text into one canonical form.

    - HTML entities decoded (`&hellip;` -> `…`); control characters, byte-order marks and
      zero-width characters dropped; NFKC folds full-width letters and digits to ASCII
      (`ｉＰｈｏｎｅ１２` -> `iPhone12`);
    - punctuation: ASCII `, ! ? : ; ( )` next to a CJK character becomes full-width
      (`好吃!` -> `好吃！`), while `3.5`, `10:30` and English stay ASCII; a `.` right after a
      CJK character becomes `。`; ellipses (`...`, `。。。`, `…`) in Chinese context become
      `……`; runs of 4+ of the same mark are cut to 3 (`！！！！！` -> `！！！`);
    - spaces: runs folded to one; dropped next to CJK punctuation, curly quotes, `…` and emoji
      (`好吃 ！` -> `好吃！`); kept between words, Chinese or Latin (`太鹹了吧 根本吃不下去`,
      `用 iPhone 12 拍`), where informal writing uses them as separators;
    - emoji: variation selectors and skin tones dropped, runs of 4+ of the same emoji cut to 3;
      `emoji="drop"` removes emoji altogether;
    - `convert`: an OpenCC conversion ("t2s", "s2t", "s2tw", "tw2s", "s2twp", ...), last.
    """
    if emoji not in ("keep", "drop"):
        raise ValueError(f"emoji must be 'keep' or 'drop', not {emoji!r}")
    if "&" in text and _ENTITY.search(text):  # web-scraped reviews: "&hellip;", "&#183;"
        text = html.unescape(text)
    text = clean(text)
    text = unicodedata.normalize("NFKC", text)
    text = _EMOJI_MODIFIERS.sub("", text)
    text = _EMOJI.sub(" ", text) if emoji == "drop" else _EMOJI_REPEAT.sub(r"\1\1\1", text)
    text = _SPACES.sub(" ", text).strip()
    text = _zh_punct(text)
    text = _ZH_SPACE.sub("", text)
    if convert:
        text = zh_convert(text, convert)
    return text


ZH_CONVERSIONS = ("t2s", "s2t", "s2tw", "tw2s", "s2twp", "tw2sp", "s2hk", "hk2s", "t2tw", "t2hk")


@functools.lru_cache(maxsize=None)
def _opencc(config: str):
    try:
        import opencc
    except ImportError:
        raise TextcycleError(
            f"Chinese conversion {config!r} needs OpenCC, a dependency of textcycle: "
            "pip install opencc-python-reimplemented"
        ) from None
    for name in (config, f"{config}.json"):
        try:
            return opencc.OpenCC(name)
        except Exception:
            continue
    raise TextcycleError(f"unknown Chinese conversion {config!r}; use one of {', '.join(ZH_CONVERSIONS)}")


def opencc_available() -> bool:
    """Whether OpenCC (the `zh` extra) can be imported: without it scripts are not converted."""
    try:
        _opencc("t2s")
        return True
    except TextcycleError:
        return False


def zh_convert(text: str, config: str | None) -> str:
    """Traditional/Simplified conversion with OpenCC (`config` like "t2s", "s2tw"; None: unchanged)."""
    if not config:
        return text
    cc = _opencc(config)
    return cc.convert(text) if text else text


_TRADITIONAL_FORMS = ("s2t", "s2tw", "s2hk")  # OpenCC's standard, Taiwan's and Hong Kong's


@functools.lru_cache(maxsize=65536)
def char_script(ch: str) -> str | None:
    """ "traditional" or "simplified" for a character only that script writes, else None. Both
    directions count, because OpenCC's conversions also change characters both scripts write:
    Traditional-only, Simplified writes it otherwise (t2s changes it) and Traditional writes it so
    (s2t, s2tw or s2hk keeps it: 難, 乾, 髮); Simplified-only, Traditional writes it otherwise (all
    three change it) and Simplified writes it so (t2s keeps it: 难, 发). So 吃, which s2t makes
    喫 but Taiwan keeps, and 台, kept in Hong Kong, count for neither. Needs OpenCC (`_opencc`)."""
    traditional_keeps = any(_opencc(c).convert(ch) == ch for c in _TRADITIONAL_FORMS)
    if _opencc("t2s").convert(ch) != ch:
        return "traditional" if traditional_keeps else None
    return None if traditional_keeps else "simplified"


def script_counts(text: str) -> tuple[int, int]:
    """(Traditional-only, Simplified-only) characters of `text` (`char_script`); (0, 0) without OpenCC."""
    if not opencc_available():
        return 0, 0
    trad = simp = 0
    for ch in text:
        if ch >= "\u2e80":  # CJK and beyond: no script difference below it
            kind = char_script(ch)
            trad += kind == "traditional"
            simp += kind == "simplified"
    return trad, simp


def zh_script(texts, sample: int = 5000) -> str | None:
    """ "traditional" or "simplified": the script with more script-only characters (`char_script`)
    in the first `sample` of `texts`; None without OpenCC, without such characters, or on a tie."""
    trad, simp = script_counts("".join(list(texts)[:sample]))
    if trad == simp:
        return None
    return "traditional" if trad > simp else "simplified"


def vocab_script(sp) -> str | None:
    """The script of a Chinese model's SentencePiece vocabulary (`zh_script` of its pieces): a
    folder that does not record its script has it in the words it was trained on."""
    return zh_script([sp.id_to_piece(i) for i in range(sp.get_piece_size())])


def script_conversions(text: str, model_script: str | None) -> tuple[str | None, str | None]:
    """(into the model's script, back into the user's) OpenCC conversions for one input, or
    (None, None) when the input is in the model's script (or has no script-only characters), or
    OpenCC is missing. Mostly the other script: there and back (Taiwan's forms for Traditional
    output). Mixed half and half: into the model's script, so it reads one script, and the answer
    stays in it. Mostly the model's script: as it is."""
    if model_script not in ("simplified", "traditional"):
        return None, None
    trad, simp = script_counts(text)
    mine, other = (simp, trad) if model_script == "simplified" else (trad, simp)
    if other == 0 or other < mine:
        return None, None
    into, back = ("t2s", "s2tw") if model_script == "simplified" else ("s2tw", "tw2s")
    return into, (back if other > mine else None)


# ---------------------------------------------------------------- sentences

# Chinese sentence ends: 。！？!? ；; and ellipses, with closing quotes/brackets kept on the sentence
_ZH_END = "。！？!?；;…"
_ZH_SENTENCE = re.compile(rf"[^{_ZH_END}\n]*(?:[{_ZH_END}]+[”’」』）)\]》〉\"']*|\n|$)")
_ZH_CLAUSE = re.compile(r"[^，,、]*(?:[，,、]+|$)")
_EN_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")


def ends_in_abbreviation(text: str) -> bool:
    """Whether `text` ends in an abbreviation's period ("... Dr."), which ends no sentence."""
    words = text.rstrip().split()
    return bool(words) and words[-1].endswith(".") and words[-1].rstrip(".").lower() in ABBREVIATIONS


def en_sentences(text: str) -> list[str]:
    """English text cut after each sentence end (. ! ? and a space), not after "Dr." or "Mr."."""
    out, start = [], 0
    for m in _EN_SENTENCE_END.finditer(text):
        if not ends_in_abbreviation(text[start : m.start()]):
            out.append(text[start : m.start()])
            start = m.end()
    return out + [text[start:]]


def zh_sentences(text: str) -> list[str]:
    """Chinese text cut after 。！？!?；; … (closing quotes stay with their sentence) and line
    breaks. Nothing is dropped: the pieces concatenate back to `text`."""
    return [m.group() for m in _ZH_SENTENCE.finditer(text) if m.group()]


def zh_clause_groups(sentence: str, max_chars: int, hard_limit: bool) -> list[str]:
    """A long Chinese sentence cut after commas (，,、) into groups of at most `max_chars`;
    the groups concatenate back to the sentence. A clause longer than `max_chars` stays whole,
    or with `hard_limit` is cut every `max_chars` characters. Without `hard_limit` a group's
    trailing comma does not count (the corpus loader strips it)."""
    out, cur = [], ""
    for clause in (c for c in _ZH_CLAUSE.findall(sentence) if c):
        size = len(clause) if hard_limit else len(clause.rstrip("，,、"))
        if cur and len(cur) + size > max_chars:
            out.append(cur)
            cur = ""
        while hard_limit and len(clause) > max_chars:
            if cur:
                out.append(cur)
                cur = ""
            out.append(clause[:max_chars])
            clause = clause[max_chars:]
        cur += clause
    if cur:
        out.append(cur)
    return out


def model_pieces(normalized: str, language: str, max_units: int) -> list[str]:
    """Corpus-form text cut into pieces a model trained on single sentences can take: at
    sentence ends, then (English) every `max_units` words or (Chinese, no spaces) after commas
    with at most `max_units` characters. Chinese pieces concatenate back to the input."""
    pieces = []
    if language == "zh":
        for sent in zh_sentences(normalized):
            pieces += zh_clause_groups(sent, max_units, hard_limit=True) if len(sent) > max_units else [sent]
    else:
        for sent in en_sentences(normalized):
            words = sent.split(" ")
            pieces += [" ".join(words[i : i + max_units]) for i in range(0, len(words), max_units)]
    return [p for p in pieces if p.strip()]


def decoded_to_corpus_form(texts: list[str], language: str) -> list[str]:
    """SentencePiece's NFKC normalisation turns full-width punctuation into ASCII ("，" -> ","):
    for Chinese, model outputs get the corpus form back (as the sources have it), so BLEU against
    a source is not penalised for every comma. English decodes to corpus form already."""
    return [zh_normalize(t) for t in texts] if language == "zh" else list(texts)


def normalize(text: str, language: str = "en", zh_convert: str | None = None) -> str:
    """Bring user text into the corpus form of `language` ("en": Yelp-style, "zh": Chinese).

    `zh_convert` (Chinese only): an OpenCC conversion such as "t2s" or "s2tw", applied last.
    """
    if language == "zh":
        return zh_normalize(text, convert=zh_convert)
    return yelp_tokenize(text)


def denormalize(text: str, language: str = "en") -> str:
    if language == "zh":
        # as zh_normalize: no spaces next to CJK punctuation or emoji; spaces between words stay
        return _ZH_SPACE.sub("", _SPACES.sub(" ", text)).strip()
    return yelp_detokenize(text)
