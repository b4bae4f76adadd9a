"""Random, seeded, reproducible domains meshed with gmsh.

Every generator takes ``(seed, mesh_size, ...)`` and returns a
:class:`graphops.mesh.Mesh` with named physical groups for its boundary pieces.
The same arguments always give the identical mesh, and the geometry depends on
the seed only, so meshes of one seed at several sizes discretise one domain.

- :func:`cutout_square`: unit square with 0..4 random corner cut-outs (BENO).
- :func:`polygon_with_holes`, :func:`blob_with_holes`: random polygons and
  smooth spline blobs with 0..4 holes.
- :func:`unit_cell_with_void`: unit cell with one random smooth void and a mesh
  graded towards it (the Geo-FNO / NUNO elasticity geometry).
- :func:`unit_cell_with_small_hole`: unit cell with one small circular hole and a mesh
  graded by a factor of 10-100 towards it (NUNO's regime).
- :func:`solid_with_holes`: box or cylinder with vertical through-holes (3D).
"""
from .blobs import blob_with_holes, polygon_with_holes
from .cutout_square import Cutout, cutout_polygon, cutout_square, sample_cutouts
from .small_hole import unit_cell_with_small_hole
from .solids import solid_with_holes
from .unit_cell import unit_cell_with_void, void_radius

__all__ = [
    "cutout_square",
    "sample_cutouts",
    "cutout_polygon",
    "Cutout",
    "polygon_with_holes",
    "blob_with_holes",
    "unit_cell_with_void",
    "void_radius",
    "unit_cell_with_small_hole",
    "solid_with_holes",
]
