"""Errors that tell the user which file, row and field is wrong, or which model is missing."""

from __future__ import annotations


class ConvbotError(Exception):
    """Base class for errors a user can act on."""


class DataValidationError(ConvbotError):
    """A catalog, dataset row or config entry is malformed."""

    def __init__(self, file: str, row: int | str | None, field: str | None, reason: str):
        self.file, self.row, self.field, self.reason = str(file), row, field, reason
        where = f"{self.file}"
        if row is not None:
            where += f", row {row}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {reason}")


class DataValidationErrors(DataValidationError):
    """Every problem found in one file; file/row/field/reason are the first problem's, `problems` has all."""

    def __init__(self, problems: list[DataValidationError]):
        self.problems = list(problems)
        first = problems[0]
        self.file, self.row, self.field, self.reason = first.file, first.row, first.field, first.reason
        lines = "\n".join(f"  - {p}" for p in problems)
        Exception.__init__(self, f"{first.file}: {len(problems)} problems\n{lines}")


class ModelUnavailableError(ConvbotError):
    """A base model cannot be found or loaded."""

    def __init__(self, model: str, reason: str, hint: str):
        self.model = model
        super().__init__(f"model '{model}' is not available: {reason}. {hint}")
