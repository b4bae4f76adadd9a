"""``elasticity-small-hole``: stress concentration at a small hole on a strongly graded point cloud.

The ``elasticity-holes`` set-up (plane strain, bottom clamped, uniform vertical
traction on the top, target: nodal von Mises stress) on the unit cell with one
small circular hole (:func:`graphops.geometry.small_hole.unit_cell_with_small_hole`):
radius 3-6 x the element size on the hole, which is ``mesh_size / grading``.
The stress peaks (about 3 x the far field) in a ring of width about the radius
around the hole, where most nodes are: the regime where a few fine subdomain
grids (NUNO) should beat one uniform grid of the same node count.

Options: ``mesh_size`` (0.05, tiny 0.1), ``grading`` (30, tiny 10), ``jitter``
(0.02: the hole's centre varies by up to this per axis), ``E``,
``nu``, ``traction`` and ``order`` as for ``elasticity-holes``.
"""
from __future__ import annotations

from typing import Any, Dict

import numpy as np

from ..errors import ConfigError
from ..mesh import Mesh
from .problems import ElasticityHoles


class ElasticitySmallHole(ElasticityHoles):
    name = "elasticity-small-hole"
    description = ("plane-strain elasticity of a unit cell with a small hole, mesh graded x grading towards it: "
                   "von Mises stress (NUNO's regime)")
    defaults = {
        "mesh_size": (0.05, 0.1),
        "grading": (30.0, 10.0),
        "jitter": (0.02, 0.02),
        "E": (1.0, 1.0),
        "nu": (0.3, 0.3),
        "traction": (1.0, 1.0),
        "order": (1, 1),
    }

    def _validate(self, values: Dict[str, Any]) -> Dict[str, Any]:
        grading, jitter = values.pop("grading"), values.pop("jitter")
        values = super()._validate({**values, "void_mesh_size": None})
        values.pop("void_mesh_size")
        try:
            values["grading"] = float(grading)
        except (TypeError, ValueError):
            raise ConfigError(f"grading must be a number >= 1, got {grading!r}") from None
        if not np.isfinite(values["grading"]) or values["grading"] < 1.0:
            raise ConfigError(f"grading must be a number >= 1, got {grading!r}")
        try:
            values["jitter"] = float(jitter)
        except (TypeError, ValueError):
            raise ConfigError(f"jitter must be a number in [0, 0.3], got {jitter!r}") from None
        if not 0.0 <= values["jitter"] <= 0.3:
            raise ConfigError(f"jitter must be a number in [0, 0.3], got {jitter!r}")
        return values

    def mesh(self, rng: np.random.Generator) -> Mesh:
        """The graded unit cell with a small hole of one sample."""
        from ..geometry.small_hole import unit_cell_with_small_hole

        opts = self.options
        return unit_cell_with_small_hole(int(rng.integers(0, 2**31 - 1)), opts["mesh_size"], opts["grading"],
                                         opts["jitter"])
