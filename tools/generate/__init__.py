"""Generators of committed files (`make openapi`, `make requirements`, `make events`).

Their shared command line: write a generated file, or with --check fail when it is stale.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def write_or_check(
    path: Path, render: Callable[[], str], *, make_target: str, description: str | None
) -> int:
    """Writes `render()` to `path`, or with --check exits 1 when `path` differs from it."""
    shown = path.relative_to(ROOT)
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help=f"fail if {shown} is stale")
    args = parser.parse_args()
    wanted = render()
    if args.check:
        current = path.read_text() if path.exists() else ""
        if current != wanted:
            print(f"{shown} is stale: run `make {make_target}`")
            return 1
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(wanted)
    print(f"wrote {shown}")
    return 0
