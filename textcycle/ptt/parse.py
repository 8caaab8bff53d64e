"""Parsers for PTT: saved article pages, board index pages, and JSON dumps of crawlers.

An article page (www.ptt.cc/bbs/<Board>/M.<time>.A.<hex>.html) keeps its comments ("pushes")
in `div.push` blocks after the "※ 文章網址:" line:

    <div class="push"><span class="hl push-tag">推 </span><span class="f3 hl push-userid">alice</span>
    <span class="f3 push-content">: 好文</span><span class="push-ipdatetime"> 1.2.3.4 01/02 10:00
    </span></div>

A board index page (/bbs/<Board>/index<N>.html) lists articles in `div.r-ent` entries whose
`div.title` holds an `<a href="/bbs/<Board>/M....html">` (no link when the article was deleted),
and links the older page in the paging bar ("‹ 上頁" -> index<N-1>.html).

Only the standard library's `html.parser` is used; malformed pages (missing spans, odd tags,
unclosed elements) give fewer comments, never an exception.

This file is over 400 lines: three input formats (article pages, index pages, crawler dumps)
share one comment model and one cleaning, kept together so they stay alike.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable, Iterator, Optional

from ..errors import TextcycleError
from ..files import split_lines

ARTICLE_ID = re.compile(r"M\.\d+\.A\.[0-9A-Fa-f]{1,4}")
_ARTICLE_URL = re.compile(r"/bbs/([A-Za-z0-9_\-]+)/(M\.\d+\.A\.[0-9A-Fa-f]{1,4})\.html")
_INDEX_URL = re.compile(r"/bbs/([A-Za-z0-9_\-]+)/index(\d*)\.html")
URL_MARKER = "※ 文章網址"

# tags as they appear on pages and in the JSON of various crawlers
PUSH, BOO, ARROW = "推", "噓", "→"
_TAG_ALIASES = {
    "推": PUSH,
    "push": PUSH,
    "up": PUSH,
    "like": PUSH,
    "1": PUSH,
    "+1": PUSH,
    "噓": BOO,
    "boo": BOO,
    "down": BOO,
    "dislike": BOO,
    "-1": BOO,
    "嘘": BOO,
    "→": ARROW,
    "->": ARROW,
    "neutral": ARROW,
    "arrow": ARROW,
    "0": ARROW,
    "reply": ARROW,
}


def normalize_tag(tag) -> Optional[str]:
    """ "推 " -> "推", "boo" -> "噓", "->" -> "→"; None for anything else."""
    if tag is None:
        return None
    return _TAG_ALIASES.get(str(tag).strip().lower())


@dataclass
class Push:
    tag: str  # as found (stripped); normalize_tag() maps it to 推 / 噓 / →
    user: str
    content: str  # without the leading ": "
    ipdatetime: str = ""


@dataclass
class Article:
    article_id: str = ""  # "M.1700000000.A.1B2", "" when unknown
    board: str = ""
    title: str = ""
    author: str = ""
    pushes: list = field(default_factory=list)
    source: str = ""  # the file it was read from
    over18_gate: bool = False  # the page was PTT's "are you over 18" question, not an article

    @property
    def key(self) -> str:
        """Identity across files: board + article id, or the source file when the id is unknown."""
        return f"{self.board.lower()}/{self.article_id}" if self.article_id else f"file:{self.source}"


def _classes(attrs) -> set[str]:
    for k, v in attrs:
        if k == "class" and v:
            return set(v.split())
    return set()


def _strip_colon(text: str) -> str:
    text = text.strip()
    if text[:1] in (":", "："):
        text = text[1:]
    return text.strip()


class _ArticleParser(HTMLParser):
    _FIELDS = {"push-tag": "tag", "push-userid": "user", "push-content": "content", "push-ipdatetime": "ipdatetime"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.pushes: list[Push] = []
        self.meta: dict[str, str] = {}
        self.marker_at: Optional[int] = None  # number of pushes seen before "※ 文章網址"
        self._push: Optional[dict] = None
        self._push_depth = 0  # open divs inside the current div.push
        self._field: Optional[str] = None
        self._field_depth = 0
        self._meta_kind: Optional[str] = None  # "tag" / "value"
        self._meta_depth = 0
        self._meta_buf: list[str] = []
        self._last_meta_tag = ""

    # --- pushes
    def _open_push(self):
        self._close_push()
        self._push = {"tag": [], "user": [], "content": [], "ipdatetime": []}
        self._push_depth = 1

    def _close_push(self):
        if self._push is None:
            return
        p = {k: "".join(v) for k, v in self._push.items()}
        self._push, self._field, self._push_depth = None, None, 0
        if not (p["tag"].strip() or p["content"].strip()):
            return  # e.g. <div class="push center warning-box">檔案過大！...</div>
        self.pushes.append(
            Push(
                tag=p["tag"].strip(),
                user=p["user"].strip(),
                content=_strip_colon(p["content"]),
                ipdatetime=p["ipdatetime"].strip(),
            )
        )

    def handle_starttag(self, tag, attrs):
        cls = _classes(attrs)
        if tag == "div":
            if "push" in cls:
                self._open_push()
                return
            if self._push is not None:
                self._push_depth += 1
        if tag == "br" and self._field is not None:
            self._push[self._field].append(" ")
        if tag == "span":
            if self._push is not None:
                if self._field is not None:
                    self._field_depth += 1
                else:
                    for c in cls:
                        if c in self._FIELDS:
                            self._field, self._field_depth = self._FIELDS[c], 1
                            break
            elif self._meta_kind is not None:
                self._meta_depth += 1
            elif "article-meta-tag" in cls or "article-meta-value" in cls:
                self._meta_kind = "tag" if "article-meta-tag" in cls else "value"
                self._meta_depth, self._meta_buf = 1, []

    def handle_startendtag(self, tag, attrs):
        if tag == "br" and self._field is not None:
            self._push[self._field].append(" ")

    def handle_endtag(self, tag):
        if tag == "span":
            if self._field is not None:
                self._field_depth -= 1
                if self._field_depth <= 0:
                    self._field = None
            elif self._meta_kind is not None:
                self._meta_depth -= 1
                if self._meta_depth <= 0:
                    text = "".join(self._meta_buf).strip()
                    if self._meta_kind == "tag":
                        self._last_meta_tag = text
                    elif self._last_meta_tag and self._last_meta_tag not in self.meta:
                        self.meta[self._last_meta_tag] = text
                    self._meta_kind = None
        elif tag == "div" and self._push is not None:
            self._push_depth -= 1
            if self._push_depth <= 0:
                self._close_push()
        elif tag in ("body", "html"):
            self._close_push()

    def handle_data(self, data):
        if self._push is not None:
            if self._field is not None:
                self._push[self._field].append(data)
            return
        if self._meta_kind is not None:
            self._meta_buf.append(data)
        if self.marker_at is None and URL_MARKER in data:
            self.marker_at = len(self.pushes)

    def close(self):
        super().close()
        self._close_push()


def parse_article_html(text: str, source: str = "") -> Article:
    """Comments and metadata of one saved PTT article page (tolerant of malformed HTML)."""
    p = _ArticleParser()
    try:
        p.feed(text)
        p.close()
    except Exception:  # html.parser is lenient; be safe on truly broken input
        p._close_push()
    pushes = p.pushes[p.marker_at :] if p.marker_at is not None else p.pushes
    art = Article(pushes=pushes, source=source)
    art.title = p.meta.get("標題", "")
    art.author = p.meta.get("作者", "")
    art.board = p.meta.get("看板", "")
    m = ARTICLE_ID.search(Path(source).name) if source else None
    url = _ARTICLE_URL.search(text)
    if m:
        art.article_id = m.group()
    elif url:
        art.article_id = url.group(2)
    if not art.board and url:
        art.board = url.group(1)
    if not art.board and source:  # crawl layout: <out>/<Board>/articles/M....html
        parts = Path(source).parts
        if len(parts) >= 3 and parts[-2] == "articles":
            art.board = parts[-3]
    if not pushes and "/ask/over18" in text:
        art.over18_gate = True
    return art


# ---------------------------------------------------------------------------------------------
# board index pages


@dataclass
class IndexEntry:
    href: Optional[str]  # "/bbs/<Board>/M....html"; None for a deleted article
    title: str
    pinned: bool = False  # below the r-list-sep line (置底文) on the newest page

    @property
    def article_id(self) -> Optional[str]:
        m = ARTICLE_ID.search(self.href or "")
        return m.group() if m else None


@dataclass
class IndexPage:
    entries: list = field(default_factory=list)
    prev_page: Optional[int] = None  # number of the older page ("‹ 上頁"), if linked
    next_page: Optional[int] = None
    over18_gate: bool = False

    @property
    def articles(self) -> list:
        """Entries that link to an article (deleted ones have no link)."""
        return [e for e in self.entries if e.href]


class _IndexParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.page = IndexPage()
        self._in_title = False
        self._title_depth = 0
        self._buf: list[str] = []
        self._href: Optional[str] = None
        self._pinned = False
        self._in_paging = False
        self._paging_depth = 0
        self._a_href: Optional[str] = None
        self._a_buf: Optional[list[str]] = None

    def handle_starttag(self, tag, attrs):
        cls = _classes(attrs)
        if tag == "div":
            if "r-list-sep" in cls:
                self._pinned = True
            if self._in_title:
                self._title_depth += 1
            elif "title" in cls:
                self._in_title, self._title_depth, self._buf, self._href = True, 1, [], None
            if self._in_paging:
                self._paging_depth += 1
            elif "btn-group-paging" in cls:
                self._in_paging, self._paging_depth = True, 1
        if tag == "a":
            href = dict(attrs).get("href")
            if self._in_title and href and self._href is None:
                self._href = href
            if self._in_paging:
                self._a_href, self._a_buf = href, []

    def handle_endtag(self, tag):
        if tag == "a" and self._a_buf is not None:
            label = "".join(self._a_buf)
            m = _INDEX_URL.search(self._a_href or "")
            if m and m.group(2):
                if "上頁" in label:
                    self.page.prev_page = int(m.group(2))
                elif "下頁" in label:
                    self.page.next_page = int(m.group(2))
            self._a_href, self._a_buf = None, None
        if tag == "div":
            if self._in_title:
                self._title_depth -= 1
                if self._title_depth <= 0:
                    self._in_title = False
                    title = " ".join("".join(self._buf).split())
                    self.page.entries.append(IndexEntry(href=self._href, title=title, pinned=self._pinned))
            if self._in_paging:
                self._paging_depth -= 1
                if self._paging_depth <= 0:
                    self._in_paging = False

    def handle_data(self, data):
        if self._in_title:
            self._buf.append(data)
        if self._in_paging and self._a_buf is not None:
            self._a_buf.append(data)


def parse_index_html(text: str) -> IndexPage:
    """Article links and paging of a board index page (tolerant of malformed HTML)."""
    p = _IndexParser()
    try:
        p.feed(text)
        p.close()
    except Exception:
        pass
    page = p.page
    # a title div outside a board listing (e.g. on an article page) is not an entry
    if "r-ent" not in text:
        page.entries = []
    if not page.entries and "/ask/over18" in text:
        page.over18_gate = True
    return page


# ---------------------------------------------------------------------------------------------
# JSON dumps

_PUSH_LISTS = ("messages", "pushes", "push", "comments", "推文", "responses")
_TAG_KEYS = ("push_tag", "tag", "type", "push_type", "kind")
_USER_KEYS = ("push_userid", "userid", "user_id", "user", "author", "id", "push_user")
_CONTENT_KEYS = ("push_content", "content", "text", "message", "comment", "body")
_TIME_KEYS = ("push_ipdatetime", "ipdatetime", "datetime", "time", "date", "push_time")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(v) -> str:
    """A scalar JSON value as text; "" for a missing value, a list or an object. A lone
    surrogate ("\\ud800" in the JSON: not a character) becomes U+FFFD, so the text can be
    written as UTF-8."""
    if v is None or isinstance(v, (dict, list)):
        return ""
    return _SURROGATE.sub("\ufffd", str(v))


def _first(d: dict, keys) -> Optional[str]:
    for k in keys:
        v = d.get(k)
        if v is not None and not isinstance(v, (dict, list)):
            return _text(v)
    return None


def _article_from_json(obj: dict, source: str) -> Optional[Article]:
    pushes_raw = None
    for k in _PUSH_LISTS:
        if isinstance(obj.get(k), list):
            pushes_raw = obj[k]
            break
    if pushes_raw is None:
        return None
    art = Article(source=source)
    for k in ("article_id", "aid", "id", "url", "link", "filename"):
        m = ARTICLE_ID.search(_text(obj.get(k)))
        if m:
            art.article_id = m.group()
            break
    url = _ARTICLE_URL.search(_text(obj.get("url")) or _text(obj.get("link")))
    art.board = _text(obj.get("board")) or (url.group(1) if url else "")
    art.title = _text(obj.get("article_title")) or _text(obj.get("title"))
    art.author = _text(obj.get("author"))
    for item in pushes_raw:
        if not isinstance(item, dict):
            continue
        content = _first(item, _CONTENT_KEYS)
        tag = _first(item, _TAG_KEYS)
        if content is None and tag is None:
            continue
        art.pushes.append(
            Push(
                tag=(tag or "").strip(),
                user=(_first(item, _USER_KEYS) or "").strip(),
                content=_strip_colon(content or ""),
                ipdatetime=(_first(item, _TIME_KEYS) or "").strip(),
            )
        )
    return art


def _json_articles(data, source: str) -> Iterator[Article]:
    if isinstance(data, dict):
        art = _article_from_json(data, source)
        if art is not None:
            yield art
            return
        for k in ("articles", "data", "posts", "items", "results"):
            if isinstance(data.get(k), list):
                yield from _json_articles(data[k], source)
                return
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, dict):
                art = _article_from_json(item, source)
                if art is not None:
                    yield art


def parse_json_dump(path: str | Path, warn: Optional[Callable[[str], None]] = None) -> Iterator[Article]:
    """Articles of a crawler's JSON dump: {"articles": [...]}, a list of articles, one article,
    or JSON Lines. Pushes in "messages" (jwlin/ptt-web-crawler), "pushes" or "comments", with keys
    push_tag/push_userid/push_content/push_ipdatetime or tag/user(id)/content/ipdatetime.
    Entries without a push list (e.g. {"error": "invalid url"}) are skipped.

    A file that is not UTF-8, not JSON, or nested too deeply to read raises TextcycleError
    before the first article (the whole file is read first); numbers are kept as their text,
    so a 5000-digit number is no error.

    jwlin/ptt-web-crawler writes one article per line between `{"articles": [` and `]}`. A file
    of that shape that does not parse whole (a broken line, a trailing comma) is read line by
    line: the articles on readable lines are kept, and `warn` is told how many lines were lost."""
    p = Path(path)
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise TextcycleError(f"{p}: not UTF-8 text (line {line})") from None
    try:
        data = _loads(text, p)
    except json.JSONDecodeError as first_error:
        # JSON Lines: one article per line
        items = []
        for i, line in enumerate(split_lines(text), 1):
            if not line.strip():
                continue
            try:
                items.append(_loads(line, p, i))
            except json.JSONDecodeError:
                recovered = _crawler_lines(text, p)
                if recovered is not None:
                    items, lost = recovered
                    if warn is not None:
                        warn(
                            f"{p}: broken JSON ({first_error.msg} at line {first_error.lineno}); "
                            f"read {len(items):,} article(s) line by line, {lost:,} line(s) lost"
                        )
                    break
                raise TextcycleError(
                    f"{p}: not valid JSON ({first_error.msg} at line {first_error.lineno}) nor JSON Lines (line {i})"
                ) from None
        data = items
    yield from _json_articles(data, str(p))


_CRAWLER_HEAD = '{"articles": ['


def _crawler_lines(text: str, path: Path) -> Optional[tuple[list, int]]:
    """(articles read, lines lost) of a one-article-per-line crawler dump, or None when the text
    does not have that shape or no line can be read."""
    lines = split_lines(text)
    if not lines or not lines[0].lstrip().startswith(_CRAWLER_HEAD):
        return None
    items, lost = [], 0
    for i, line in enumerate(lines, 1):
        s = line.strip()
        if i == 1:
            s = s[len(_CRAWLER_HEAD) :].lstrip()
        if s.endswith("]}"):
            s = s[:-2].rstrip()
        s = s.rstrip(",").rstrip()
        if not s:
            continue
        try:
            obj = _loads(s, path, i)
        except json.JSONDecodeError:
            lost += 1
            continue
        if isinstance(obj, dict):
            items.append(obj)
        else:
            lost += 1
    return (items, lost) if items else None


def _loads(text: str, path: Path, line: Optional[int] = None):
    """json.loads, numbers as text; JSONDecodeError for bad JSON, TextcycleError for JSON
    nested deeper than Python's recursion limit."""
    try:
        return json.loads(text, parse_int=str)
    except RecursionError:
        where = f" (line {line})" if line else ""
        raise TextcycleError(f"{path}: JSON nested too deeply to read{where}") from None
