"""Printing: aligned tables and `key  value` details for people, JSON for scripts, a progress line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from pydantic import BaseModel


def jsonable(value: Any) -> Any:
    """Models as the API sent them (fields it left out stay out); lists and dicts recursively."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    return value


def print_json(value: Any, *, indent: int | None = 2, stream: TextIO | None = None) -> None:
    """Print `value` as JSON (one line when `indent` is None)."""
    print(json.dumps(jsonable(value), indent=indent, ensure_ascii=False), file=stream or sys.stdout, flush=True)


def cell(value: Any) -> str:
    """A table cell: `-` for nothing."""
    if isinstance(value, list | tuple):
        value = ",".join(str(item) for item in value)
    return "-" if value is None or value == "" else str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Columns aligned on the widest cell; the last column is not padded."""
    texts = [[cell(value) for value in row] for row in rows]
    widths = [max([len(header), *(len(row[i]) for row in texts)]) for i, header in enumerate(headers)]
    lines = [headers, *texts]
    return "\n".join(
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a table on stdout."""
    print(table(headers, rows))


def print_details(pairs: Iterable[tuple[str, Any]]) -> None:
    """`key  value` lines, keys aligned."""
    items = list(pairs)
    width = max(len(key) for key, _ in items)
    for key, value in items:
        print(f"{key.ljust(width)}  {cell(value)}")


class Progress:
    """A one-line progress report on stderr, redrawn per step; only on a terminal and without `--json`."""

    def __init__(self, total: int, *, enabled: bool, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self._drawn = False

    def update(self, done: int, failed: int) -> None:
        """Redraw the line."""
        if not self.enabled:
            return
        width = 24
        filled = width * done // max(self.total, 1)
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(f"\r[{bar}] {done}/{self.total} sent, {failed} failed")
        self.stream.flush()
        self._drawn = True

    def finish(self) -> None:
        """End the line, so what follows starts on a fresh one."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
