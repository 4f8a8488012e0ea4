"""The one error type users see for bad input: it names the input, the problem and the fix."""

from pathlib import Path


class KinemaInputError(ValueError):
    """Bad user input (file, size, parameter). The CLI prints it and exits with status 2."""

    def __init__(self, what: str, problem: str, fix: str = "") -> None:
        self.what, self.problem, self.fix = what, problem, fix
        message = f"{what}: {problem}"
        super().__init__(f"{message}. {fix}" if fix else message)


def require_file(path: Path, what: str, fix: str = "Check the path.") -> None:
    """KinemaInputError naming ``what`` unless ``path`` is an existing file (a directory is named as one)."""
    if path.is_dir():
        raise KinemaInputError(f"{what} '{path}'", "is a directory, not a file", fix)
    if not path.is_file():
        raise KinemaInputError(f"{what} '{path}'", "file not found", fix)
