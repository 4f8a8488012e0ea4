"""Atomic file writes: a reader never sees a half-written file, a failure leaves nothing behind.

Outputs are checked before any compute (:func:`check_output`, :func:`check_output_dir`): a location
that cannot be written, or a path that is one of the command's own inputs, is refused up front
instead of after the work. Temporary files and directories get the permissions a plain ``open()``
or ``mkdir()`` would give (the umask applies; an overwritten file keeps its mode).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from kinema.errors import KinemaInputError

Inputs = Iterable[str | os.PathLike | None]  # files a command reads; None: an optional input not given


def check_output(path: str | os.PathLike, what: str = "output", inputs: Inputs = ()) -> None:
    """KinemaInputError unless a file can be written at ``path`` without destroying anything.

    Refused: a directory or another non-regular file (device, fifo), a path under a file, a
    location where no file can be created (read-only mount, /proc, an immutable or foreign
    directory), an existing file that the final rename cannot replace (immutable, append-only,
    another user's file in a sticky directory), and any of ``inputs`` (the same file once links
    are resolved).
    """
    path = Path(path)
    if os.path.isdir(path):
        raise KinemaInputError(f"{what} '{path}'", "is a directory", "Pass a file path, e.g. inside that directory.")
    if os.path.exists(path) and not os.path.isfile(path):
        raise KinemaInputError(f"{what} '{path}'", "exists and is not a regular file (a device, fifo or socket)",
                               "Pass the path of a regular file.")
    _check_writable(path.parent, f"{what} '{path}'")
    if os.path.lexists(path):
        _check_replaceable(path, f"{what} '{path}'")
    for given in inputs:
        if given is not None and _same_file(path, given):
            raise KinemaInputError(f"{what} '{path}'", f"is the input '{given}': writing it would destroy that input",
                                   "Write the output to another path.")


def check_output_dir(path: str | os.PathLike, what: str = "output directory") -> None:
    """KinemaInputError unless files can be created in the directory ``path`` (made if missing)."""
    path = Path(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise KinemaInputError(f"{what} '{path}'", "exists and is not a directory", "Pass a directory path.")
    _check_writable(path, f"{what} '{path}'")


def _check_writable(directory: Path, name: str) -> None:
    """Create and remove a file in ``directory``, or in its nearest existing parent when it is still to be made.

    Trying is the only reliable test: ``os.access`` says yes on read-only mounts and immutable directories.
    """
    existing = next((p for p in (directory, *directory.parents) if os.path.exists(p)), directory)
    if not os.path.isdir(existing):
        raise KinemaInputError(name, f"lies under '{existing}', which is a file", "Pass a path in a directory.")
    try:
        fd, probe = tempfile.mkstemp(prefix=".kinema-write-test.", suffix=".tmp", dir=existing)
    except OSError as err:
        raise KinemaInputError(name, f"cannot be written: no file can be created in '{existing}' ({err.strerror})",
                               "Pass a path in a writable directory.") from None
    os.close(fd)
    os.unlink(probe)


def _check_replaceable(path: Path, name: str) -> None:
    """Refuse an existing ``path`` that ``os.replace`` would fail to rename over after the compute.

    Two kernel rules refuse it with EPERM: an immutable or append-only file, found by opening it for
    writing (no truncation, nothing written, so the file is unchanged), and a sticky directory
    (/tmp), where only root, the file's owner or the directory's owner may replace a file.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_NOFOLLOW))
    except OSError as err:
        if err.errno == errno.EPERM:  # EACCES (a read-only mode) and ELOOP (a link) do not stop a rename
            raise KinemaInputError(name, "exists and cannot be replaced: it is immutable or append-only",
                                   "Remove the flag (chattr -i -a) or choose another --out.") from None
    folder, file, euid = os.stat(path.parent), os.lstat(path), os.geteuid()
    if folder.st_mode & stat.S_ISVTX and euid not in (0, file.st_uid, folder.st_uid):
        raise KinemaInputError(name, f"belongs to another user in the sticky directory '{path.parent}', "
                               "so it cannot be replaced", "Choose another --out, or ask its owner to remove it.")


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether ``a`` and ``b`` name one file: the same path once links are resolved, or one inode (a hard link)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # either is missing
        return False


def _keep_mode(path: Path, tmp: Path) -> None:
    """Give ``tmp`` the permission bits of ``path`` when it exists, as writing into that file would keep them."""
    with contextlib.suppress(FileNotFoundError):
        os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``, else delete it.

    The temporary name keeps the suffix so writers that infer a format from it still work. The file
    is created as ``open()`` would create it (mode 0666 less the umask) and gets the mode of the file
    it replaces.
    """
    path = Path(path)
    check_output(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(6)}.tmp{path.suffix}")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        yield tmp
        _keep_mode(path, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; on success it replaces ``path`` (an old one is removed).

    The directory is made as ``mkdir`` would make it (0777 less the umask), or with the old one's mode.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        tmp.mkdir()
        yield tmp
        _keep_mode(path, tmp)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
