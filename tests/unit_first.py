"""A pytest plugin for `make mutate` (pyproject's [tool.mutmut]): unit tests run first.

mutmut hands each mutant's tests to pytest in no particular order and stops at the first
failure; most mutants fall to a unit test in milliseconds, so those go before the
integration tests, which take seconds each.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: "/integration/" in item.nodeid)
