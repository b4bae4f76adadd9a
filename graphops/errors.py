"""The one exception family graphops raises for anything a user can fix."""
from __future__ import annotations

import os
from typing import Optional, Union

PathLike = Union[str, "os.PathLike[str]"]


class GraphopsError(Exception):
    """A problem with the user's input, named with the file it came from.

    The message is a single line: ``"<file>: <problem>"`` when a file is
    involved, otherwise just ``"<problem>"``. The CLI prints it as
    ``graphops: error: <message>`` and exits with a non-zero status.
    """

    def __init__(self, problem: str, path: Optional[PathLike] = None) -> None:
        self.problem = problem
        self.path = None if path is None else os.fspath(path)
        super().__init__(problem if self.path is None else f"{self.path}: {problem}")


class MeshError(GraphopsError):
    """A mesh or point cloud is missing, unreadable or unusable."""


class ConfigError(GraphopsError):
    """A configuration (problem name, model config, CLI arguments) is invalid."""


class CheckpointError(GraphopsError):
    """A checkpoint is missing, corrupt, or belongs to another model."""


class DataError(GraphopsError):
    """A dataset or field (NaN values, wrong shapes) is unusable."""
