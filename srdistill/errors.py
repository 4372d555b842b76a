"""Errors meant for the person running srdistill, not for a traceback.

Every problem a user can cause (a wrong recipe key, a missing file, a checkpoint of the wrong
shape) is raised as a :class:`UserError` that names the problem and the fix. The CLI prints it
as one short panel and exits with status 1.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input, reported without a traceback.

    Args:
        problem: what is wrong, in one or a few lines.
        fix: what to do about it.
    """

    def __init__(self, problem: str, fix: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return self.problem if self.fix is None else f"{self.problem}\nFix: {self.fix}"


class UnknownNameError(UserError, KeyError):
    """A component name that no registry knows."""

    def __str__(self) -> str:  # KeyError would quote the message
        return UserError.__str__(self)


class Stopped(Exception):
    """Training stopped on a signal after saving a snapshot; ``exit_code`` is 128 + the signal."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def missing_path(what: str, path: object, fix: str) -> UserError:
    """The error for a file or folder that is not where the recipe says."""
    return UserError(f"{what} not found: {path}", fix)
