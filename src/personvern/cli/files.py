"""The files and folders the command line writes: its owner's only (0600, 0700) from creation, never through a link.

Answers, plans, reviews and problem lists name or hold personal data; a file first written world-readable and
tightened afterwards is readable in between, and a link planted in a shared folder would send the data elsewhere.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import IO

from personvern.domain.errors import invalid

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def private_folder(path: Path, option: str, *, empty: bool) -> bool:
    """A folder of the user's own to write into: made (0700) if missing; with `empty`, an existing one must be.

    Returns whether it was made. A link, another user's folder or (with `empty`) one holding files is refused.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        try:
            path.mkdir(mode=0o700, parents=True)
        except OSError as exc:
            raise invalid(option, f"{path} cannot be made a folder ({exc.strerror})") from None
        return True
    if stat.S_ISLNK(st.st_mode):
        raise invalid(option, f"{path} is a link (not followed); name a new folder or an empty one of your own")
    if not stat.S_ISDIR(st.st_mode):
        raise invalid(option, f"{path} exists and is not a folder")
    if st.st_uid != os.geteuid():
        raise invalid(option, f"{path} is not your own folder; name a new folder or an empty one of your own")
    if empty and any(path.iterdir()):
        raise invalid(option, f"{path} exists and is not an empty folder; the answer would mix with other files")
    if not os.access(path, os.W_OK | os.X_OK):
        raise invalid(option, f"{path} cannot be written (permission denied)")
    return False


def _open(path: Path, option: str, replace: bool) -> int:
    try:
        fd = os.open(path, _FLAGS | (0 if replace else os.O_EXCL), 0o600)
    except FileExistsError:
        raise invalid(option, f"{path} exists; name a new file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise invalid(option, f"{path} is a link; name the file itself (links are not followed)") from None
        raise invalid(option, f"{path} cannot be written ({exc.strerror})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
        os.close(fd)
        raise invalid(option, f"{path} is not a file of your own; name a new file")
    os.set_blocking(fd, True)
    # A file replaced keeps its mode: make it private, and empty, before a byte of the new content lands.
    os.fchmod(fd, 0o600)
    os.ftruncate(fd, 0)
    return fd


def write_private(path: Path, data: bytes, option: str, *, replace: bool = False) -> None:
    """Write `data` to a file readable by its owner only; `replace`: an existing file of the user's own may go."""
    fd = _open(path, option, replace)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except OSError as exc:
        raise invalid(option, f"{path} cannot be written ({exc.strerror})") from None


def open_private(path: Path, option: str) -> IO[str]:
    """A text file (UTF-8, newlines as written) readable by its owner only, new or replacing one of the user's own."""
    return os.fdopen(_open(path, option, replace=True), "w", newline="", encoding="utf-8")
