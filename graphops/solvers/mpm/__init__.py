"""2D/3D MLS-MPM particle simulator (elastic jelly, Newtonian fluid, Drucker-Prager sand).

Public API:

- :func:`simulate_trajectory` (scene config + seed -> arrays), :func:`run_scene`
- :func:`make_scene`, :func:`box_scene`, :class:`Scene`
- :class:`MPMSimulator`, :class:`MPMConfig`, :class:`ParticleState`, :func:`stable_dt`
- :func:`make_material`, :class:`ElasticJelly`, :class:`NewtonianFluid`,
  :class:`DruckerPragerSand`, ``MATERIAL_IDS``
"""
from graphops.solvers.mpm.materials import (
    MATERIAL_IDS,
    DruckerPragerSand,
    ElasticJelly,
    Material,
    NewtonianFluid,
    make_material,
)
from graphops.solvers.mpm.scenes import Scene, box_scene, make_scene, parse_scene_config
from graphops.solvers.mpm.simulator import MPMConfig, MPMSimulator, ParticleState, stable_dt
from graphops.solvers.mpm.trajectories import run_scene, simulate_trajectory, substeps_for

__all__ = [
    "MATERIAL_IDS", "Material", "ElasticJelly", "NewtonianFluid", "DruckerPragerSand", "make_material",
    "Scene", "make_scene", "box_scene", "parse_scene_config",
    "MPMConfig", "MPMSimulator", "ParticleState", "stable_dt",
    "run_scene", "simulate_trajectory", "substeps_for",
]
