"""Every file scalecheck writes goes through here: atomically, under a unique temporary name, in a folder it owns.

A reader (or a crash, or a second process) never sees half a file: each file is written to a fresh temporary
name in its own folder (``mkstemp``, so two writers never share one) and moved over the target with
``os.replace``. A report folder is held by one run at a time (an ``flock`` on ``.scalecheck.lock``, released by
the kernel when the process ends, so a killed run leaves no stale lock): a second run into the same folder is
refused before it loads any model, rather than interleaving its files with the first run's.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

LOCK_NAME = ".scalecheck.lock"


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


_UMASK = _umask()
_MODE = 0o666 & ~_UMASK
"""The mode a plain ``open(path, "w")`` gives (mkstemp makes 0600 files, mkdtemp 0700 folders)."""


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path next to ``path`` for a writer that wants a file name (matplotlib, pandas); on success it
    replaces ``path`` in one step, on failure it is removed."""
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, _MODE)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_atomically(path: Path, content: str | bytes) -> None:
    """Write ``content`` (text as UTF-8) to ``path`` so that no reader ever sees a partial file."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


@contextmanager
def atomic_folder(path: Path, *, replace: bool = False) -> Iterator[Path]:
    """A fresh temporary folder next to ``path`` to fill; on success it becomes ``path`` in one rename. An existing
    ``path`` is replaced only if ``replace`` (else ``FileExistsError``, also when another process got there first)."""
    temporary = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield temporary
        os.chmod(temporary, 0o777 & ~_UMASK)
        if replace and path.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, retired / path.name)
            shutil.rmtree(retired)
        try:
            os.rename(temporary, path)
        except OSError as error:
            if path.exists():
                raise FileExistsError(errno.EEXIST, "already exists", str(path)) from error
            raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


class FolderError(OSError):
    """A folder scalecheck cannot write into, or one another run is writing; the message names the remedy."""


def writable_folder(directory: Path, option: str) -> None:
    """Create ``directory`` if needed and prove a file can be written there; raise ``FolderError`` in one line."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        where = f": {error.filename}" if error.filename and str(error.filename) != str(directory) else ""
        raise FolderError(
            f"{option} {directory}: cannot write there ({reason}{where}); give a writable folder"
        ) from None


@dataclass
class FolderLock:
    """This process' hold on a report folder; released when the process exits (or on ``release``)."""

    directory: Path
    handle: IO[str]

    def release(self) -> None:
        if not self.handle.closed:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()


def hold_folder(directory: Path, option: str) -> FolderLock:
    """Make ``directory`` writable and hold it for this run; refuse, in one line, a folder another run holds."""
    writable_folder(directory, option)
    handle = (directory / LOCK_NAME).open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise FolderError(
            f"{option} {directory} is in use by another scalecheck run ({holder}); wait for it to finish, or give "
            "this run its own folder and combine them with: python -m reports merge DIR DIR --out DIR"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return FolderLock(directory, handle)
