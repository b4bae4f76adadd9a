"""Reading and writing meshes and point clouds; everything goes through :class:`graphops.Mesh`."""
from .point_cloud import POINT_CLOUD_EXTENSIONS, read_point_cloud, write_point_cloud
from .read import read_mesh, supported_extensions
from .write import write_mesh

__all__ = [
    "read_mesh",
    "write_mesh",
    "read_point_cloud",
    "write_point_cloud",
    "supported_extensions",
    "POINT_CLOUD_EXTENSIONS",
]
