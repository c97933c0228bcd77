"""Absolute neighbour-page links for page-number pagination (docs/api-users.md)."""

from __future__ import annotations

import math
import urllib.parse
from typing import Dict, Mapping


def page_url(base_url: str, page: int, page_size: int, query: Mapping[str, str] = {}) -> str:
    return f"{base_url}?{urllib.parse.urlencode({**query, 'page': page, 'page_size': page_size})}"


def page_links(base_url: str, page: int, page_size: int, count: int,
               query: Mapping[str, str] = {}) -> Dict[str, str | None]:
    """`next` and `previous`, keeping the list's filters (`query`); past the end, `previous` is
    the last page with results."""
    last_page = math.ceil(count / page_size)
    next_page = page + 1 if page < last_page else None
    previous_page = min(page - 1, last_page) if page > 1 and last_page else None
    return {
        "next": page_url(base_url, next_page, page_size, query) if next_page else None,
        "previous": page_url(base_url, previous_page, page_size, query) if previous_page else None,
    }
