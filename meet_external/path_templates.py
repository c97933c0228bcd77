"""The file's path templates (`/rooms/{id}`) as regular expressions."""

import re
from typing import Pattern


def template_pattern(template: str) -> Pattern:
    parts = re.split(r"(\{[^}/]+\})", template)
    regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{regex}$")
