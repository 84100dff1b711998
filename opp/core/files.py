"""Files opp writes on request (a backup, a printed invoice): whole or not at all, never over a file
that is there unless asked, never through a symbolic link.

The content goes to a new owner-only temporary file in the target's folder, which is then renamed into
place (``os.replace`` with ``force``, a hard link otherwise, so that a file appearing meanwhile is not
overwritten either). A command killed midway leaves at most a hidden ``.NAME.*.tmp`` beside the target,
never a half-written target that blocks the next attempt.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from opp.core.errors import Conflict, Invalid, Unavailable

_NEW_NAME = "give a new file name, or --force to replace it"


def _refuse(path: Path, *, force: bool) -> None:
    if path.is_symlink():
        raise Conflict(f"{path} is a symbolic link; opp does not write through one", hint="give another name")
    if path.exists() and (not force or path.is_dir()):
        raise Conflict(f"{path} already exists", hint="give a new file name" if path.is_dir() else _NEW_NAME)
    if not path.parent.is_dir():
        raise Unavailable(f"cannot write {path}: there is no folder {path.parent}")


def check_target(target: str | Path, *, force: bool = False) -> Path:
    """Refuse, before any work is done, a target that :func:`write_file` would refuse (it checks again
    when it writes). Returns the path."""
    if not str(target).strip():
        raise Invalid("the file name is empty")
    path = Path(target).expanduser()
    _refuse(path, force=force)
    return path


def write_file(target: str | Path, fill: Callable[[Path], None], *, force: bool = False) -> Path:
    """Make ``target`` by calling ``fill`` on a temporary path in the same folder, then renaming it.

    Refused (nothing written) when ``target`` is empty, a symbolic link, or (without ``force``) exists.
    Returns the path written.
    """
    if not str(target).strip():
        raise Invalid("the file name is empty")
    path = Path(target).expanduser()
    _refuse(path, force=force)
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise Unavailable(f"cannot write {path}: {exc.strerror or exc}") from exc
    os.close(fd)
    scratch = Path(temporary)
    try:
        fill(scratch)
        _sync(scratch)
        _refuse(path, force=force)  # again: it may have appeared while the content was written
        if force:
            os.replace(scratch, path)
        else:
            _link(scratch, path)
    except FileExistsError as exc:
        raise Conflict(f"{path} already exists", hint=_NEW_NAME) from exc
    except OSError as exc:
        raise Unavailable(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            scratch.unlink()
    return path


def write_text_file(target: str | Path, text: str, *, force: bool = False) -> Path:
    """``write_file`` for a text (UTF-8)."""

    def fill(scratch: Path) -> None:
        scratch.write_text(text, encoding="utf-8")

    return write_file(target, fill, force=force)


def _link(scratch: Path, path: Path) -> None:
    """Give the content its name unless the name is taken (where a file system has no hard links, a
    rename right after the check)."""
    try:
        os.link(scratch, path)
    except FileExistsError:
        raise
    except OSError:
        if path.exists() or path.is_symlink():
            raise FileExistsError(path) from None
        os.replace(scratch, path)


def _sync(path: Path) -> None:
    """Make the content durable before the name points at it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
