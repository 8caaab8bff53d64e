"""PTT (批踢踢) comments as a style-transfer corpus: 噓 (boo, negative) vs 推 (push, positive).

- `parse`: saved article pages (div.push blocks), board index pages, crawler JSON dumps;
- `crawl`: a polite, resumable crawler for www.ptt.cc (for users with a network);
- `ingest`: pages/dumps -> neg.txt / pos.txt (+ dev/test hold-out, optional neu.txt).

Command line: `python -m textcycle.ptt {crawl,ingest} ...` (see `--help`).
"""

from .crawl import Crawler, CrawlReport, FetchError, crawl_board
from .ingest import IngestOptions, IngestStats, ingest
from .parse import Article, Push, parse_article_html, parse_index_html, parse_json_dump

__all__ = [
    "Article",
    "Crawler",
    "CrawlReport",
    "FetchError",
    "IngestOptions",
    "IngestStats",
    "Push",
    "crawl_board",
    "ingest",
    "parse_article_html",
    "parse_index_html",
    "parse_json_dump",
]
