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


class ConfigError(RecipeError):
    """A Data-Juicer config is malformed, or asks for a setting juicedb cannot honour."""


class MissingOperatorsError(ConfigError):
    """A Data-Juicer config names operators juicedb lacks (or cannot run as configured).

    ``missing`` holds one ``(step, op, reason)`` per operator, all of them at once.
    """

    def __init__(self, message: str, missing: list[tuple[int, str, str]]) -> None:
        self.missing = missing
        super().__init__(message)


class DatasetError(JuicedbError):
    """A dataset cannot be read at all (missing file, unknown format)."""

    exit_code = 3


class MissingDependencyError(JuicedbError):
    """An optional package or model an operator needs is not installed."""

    exit_code = 4


class SandboxError(JuicedbError):
    """A sandbox config, pool or plug-in is invalid, or a training or evaluation job failed."""

    exit_code = 5


class RegistryError(JuicedbError):
    """An operator declaration is inconsistent (raised at import time)."""
