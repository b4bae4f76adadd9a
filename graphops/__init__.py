"""graphops: irregular meshes and point clouds as graphs, and neural PDE solution operators on them."""
from .errors import CheckpointError, ConfigError, DataError, GraphopsError, MeshError
from .mesh import Mesh, PhysicalGroup

__version__ = "0.1.0"

__all__ = [
    "Mesh",
    "PhysicalGroup",
    "GraphopsError",
    "MeshError",
    "ConfigError",
    "CheckpointError",
    "DataError",
    "__version__",
]
