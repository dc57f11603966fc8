"""One error hierarchy for juicedb.

Every message says what was expected, what was found, and how to fix it.
The CLI maps these classes to exit codes in one place (``cli/main.py``).
"""

from __future__ import annotations


class JuicedbError(Exception):
    """Base class of every error juicedb raises on purpose."""

    exit_code = 1


class RecipeError(JuicedbError):
    """A recipe is invalid: caught at compile time, before any data is read."""

    exit_code = 2

    def __init__(self, message: str, *, sql: str | None = None, line: int | None = None,
                 col: int | None = None) -> None:
        self.sql, self.line, self.col = sql, line, col
        where = ""
        if line is not None:
            where = f" (line {line}" + (f", column {col}" if col is not None else "") + ")"
        super().__init__(message + where)


class UnknownOperatorError(RecipeError):
    """A function name looks like an operator but none is registered."""


class ParamError(RecipeError):
    """An operator parameter has a bad name, type or value."""


class DatasetError(JuicedbError):
    """A dataset cannot be read at all (missing file, unknown format)."""

    exit_code = 3


class MissingDependencyError(JuicedbError):
    """An optional package or model an operator needs is not installed."""

    exit_code = 4


class RegistryError(JuicedbError):
    """An operator declaration is inconsistent (raised at import time)."""
