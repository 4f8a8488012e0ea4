"""The one error type users see for bad input: it names the input, the problem and the fix."""

import os
import stat
import tokenize
import zipfile
import zlib
from pathlib import Path

# What numpy raises for a damaged or foreign .npy/.npz: the zip container, its zlib streams, the array
# header (parsed as Python literals; MemoryError when it claims a shape larger than memory, before any
# allocation), an encrypted or unsupported member, and the refused pickles (ValueError).
ARRAY_FILE_ERRORS = (OSError, EOFError, ValueError, KeyError, IndexError, SyntaxError, tokenize.TokenError,
                     MemoryError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError)

_KINDS = ((stat.S_ISFIFO, "a fifo"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


class KinemaInputError(ValueError):
    """Bad user input (file, size, parameter). The CLI prints it and exits with status 2."""

    def __init__(self, what: str, problem: str, fix: str = "") -> None:
        self.what, self.problem, self.fix = what, problem, fix
        message = f"{what}: {problem}"
        super().__init__(f"{message}. {fix}" if fix else message)


def require_file(path: Path, what: str, fix: str = "Check the path.") -> None:
    """KinemaInputError naming ``what`` unless ``path`` is an existing, readable regular file.

    Called before a reader opens ``path``, so that a fifo (which would block the open until a writer
    comes) or a device such as ``/dev/zero`` (endless) is named for what it is and never read.
    """
    name = f"{what} '{path}'"
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        problem = "is a broken symbolic link" if os.path.islink(path) else "file not found"
        raise KinemaInputError(name, problem, fix) from None
    except (OSError, ValueError) as err:  # permission denied on a parent, name too long, a NUL byte, a link loop
        raise KinemaInputError(name, f"cannot be reached ({getattr(err, 'strerror', None) or err})", fix) from None
    if stat.S_ISDIR(mode):
        raise KinemaInputError(name, "is a directory, not a file", fix)
    if not stat.S_ISREG(mode):
        kind = next((kind for test, kind in _KINDS if test(mode)), "a special file")
        raise KinemaInputError(name, f"is not a regular file ({kind})", fix)
    if not os.access(path, os.R_OK):
        raise KinemaInputError(name, "cannot be read (permission denied)", "Make it readable, e.g. chmod u+r.")
