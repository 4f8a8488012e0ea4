"""The one error type users see for bad input: it names the input, the problem and the fix."""


class KinemaInputError(ValueError):
    """Bad user input (file, size, parameter). The CLI prints it and exits with status 2."""

    def __init__(self, what: str, problem: str, fix: str = "") -> None:
        self.what, self.problem, self.fix = what, problem, fix
        message = f"{what}: {problem}"
        super().__init__(f"{message}. {fix}" if fix else message)
