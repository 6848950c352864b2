"""`Stoppable`: context-manager use for anything with a `stop()` (servers, child processes)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


class Stoppable(ABC):
    """`with thing:` stops `thing` on the way out, whatever happened inside."""

    @abstractmethod
    def stop(self) -> None:
        """Ends whatever was started; must be safe to call more than once."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
