"""The project's own error types: every failure a user can cause is one of these, with a message that names
the file (and line or field where known) and what was expected."""

from __future__ import annotations

from pathlib import Path


class AIMError(Exception):
    """Base class of all errors the project raises on purpose."""


class ConfigError(AIMError, ValueError):
    """An invalid configuration value or CLI argument."""


class DataError(AIMError):
    """Bad input data: ``DataError(path, problem, line=None)`` renders as ``path:line: problem``."""

    def __init__(self, path: str | Path | None, problem: str, line: int | None = None):
        self.path = None if path is None else str(path)
        self.problem = problem
        self.line = line
        where = self.path or "<data>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {problem}")


class RunFormatError(AIMError):
    """A run or study folder that is missing, corrupt, foreign or of an unknown schema version."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class OutputError(AIMError):
    """An output folder or file that cannot be written (permission denied, read-only, disk full)."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
