"""Atomic file writing: a file appears complete or not at all."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator, Union

from ..errors import GraphopsError

PathLike = Union[str, "os.PathLike[str]"]


def writable_dir(path: PathLike) -> Path:
    """Create (if needed) and return the folder that will hold ``path``.

    Raises
    ------
    GraphopsError
        When the folder cannot be created or written to (read-only, no permission).
    """
    folder = Path(path).expanduser().resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise GraphopsError("cannot create the output folder: a file is in the way (this path or a parent is a file)",
                            folder) from None
    except OSError as exc:
        raise GraphopsError(f"cannot create the output folder ({exc.strerror})", folder) from None
    if not os.access(folder, os.W_OK):
        raise GraphopsError("the output folder is not writable", folder)
    return folder


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    The temporary name keeps the final suffix so that writers which choose a
    format by extension (meshio, matplotlib, torch) behave the same. On any
    error the temporary file is removed and ``path`` is left untouched.
    Disk-full and permission errors become a :class:`GraphopsError` naming ``path``.
    """
    final = Path(path).expanduser()
    folder = writable_dir(final)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".tmp{final.suffix}", dir=folder)
    except OSError as exc:  # read-only file system, no permission (root too), no space for a new file
        raise GraphopsError(f"cannot write file ({exc.strerror or exc})", final) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp_path, final)
    except OSError as exc:
        raise GraphopsError(f"cannot write file ({exc.strerror or exc})", final) from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; it becomes ``path`` on success.

    Parameters
    ----------
    path : path-like
        Final file name.
    mode : str
        ``"wb"`` or ``"w"``.
    """
    with atomic_path(path) as tmp:
        with open(tmp, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
