"""Read a user's YAML file (run config, import spec) with one-line errors naming the file."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Union

from ..errors import ConfigError

PathLike = Union[str, "os.PathLike[str]"]


def read_yaml_file(path: PathLike, what: str, allow_empty: bool = False) -> Any:
    """The parsed content of a YAML file, not validated.

    Parameters
    ----------
    path : path-like
    what : str
        What the file is, for the messages (e.g. ``"run config"``).
    allow_empty : bool
        Return None for an empty file instead of refusing it.

    Raises
    ------
    ConfigError
        Missing, unreadable, invalid (with the line) or, unless allowed, empty file.
    """
    import yaml

    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"{what} file not found", path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the {what} ({exc})", path) from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"the {what} is not valid YAML{line}", path) from None
    if raw is None and not allow_empty:
        raise ConfigError(f"{what} file is empty", path)
    return raw
