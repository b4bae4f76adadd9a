"""Roll a trained particle-dynamics model (``giorom`` or ``gns``) out from your own particle set.

::

    from graphops.rollout import rollout
    result = rollout("giorom.pt", "my_particles.vtu", steps=100, out_dir="out/")
    # out/frame_0000.vtu ... out/frame_0100.vtu, out/rollout.pvd (ParaView time series),
    # out/rollout.gif (or out/frames/frame_0000.png ... without pillow)

The initial particle set is any point cloud or mesh file :func:`graphops.io.read_mesh`
reads (its points are the particles). Optional point fields: ``velocity``
``(N, d)`` in m/s (the history is built by moving back at that velocity; at rest
otherwise) and ``material`` ``(N,)`` ids (jelly 0, fluid 1, sand 2; default: the
training data's most common material). Every file is written atomically.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Union

import numpy as np

from .errors import DataError, GraphopsError, MeshError
from .mesh import Mesh
from .utils.atomic import atomic_path, atomic_write

PathLike = Union[str, "os.PathLike[str]"]

#: Most points drawn per animation frame (a random but fixed subset beyond that).
MAX_PLOT_POINTS = 20_000


@dataclass
class RolloutResult:
    """What :func:`rollout` wrote and computed.

    Attributes
    ----------
    positions : ndarray, shape (steps + 1, N, d)
        Particle (or query point) positions, frame 0 = the initial set.
    frames : list of Path
        The VTU files, one per frame.
    pvd : Path
        The ParaView collection of the frames.
    animation : list of Path
        ``rollout.gif``, or the PNG frames when pillow is missing (empty when disabled).
    seconds : float
        Wall time of the model rollout (without writing files).
    model_name : str
    """

    positions: np.ndarray
    frames: List[Path]
    pvd: Path
    animation: List[Path] = field(default_factory=list)
    seconds: float = 0.0
    model_name: str = ""


def load_dynamics_model(checkpoint: PathLike, device: str = "cpu"):
    """Rebuild a ``giorom`` / ``gns`` model from a checkpoint.

    Raises
    ------
    CheckpointError
        Not a checkpoint, or one of another model kind.
    """
    from .tasks import decide_task
    from .train.checkpoint import load_model

    model, _, meta = load_model(checkpoint, map_location=device)
    decide_task(checkpoint=meta, require="particles", command="rollout", path=checkpoint)
    return model


def _as_cloud(value, what: str) -> Mesh:
    if isinstance(value, Mesh):
        return value
    if isinstance(value, (str, os.PathLike)):
        from .io import read_mesh

        return read_mesh(value)
    arr = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] not in (2, 3):
        raise DataError(f"{what} must be a point array of shape (N, 2) or (N, 3), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise DataError(f"{what} contain NaN or infinite coordinates")
    return Mesh(arr, {})


def initial_history(points: np.ndarray, history: int, frame_dt: float,
                    velocity: Optional[np.ndarray] = None) -> np.ndarray:
    """``history + 1`` frames ending at ``points``, moving at constant ``velocity`` (m/s).

    Returns
    -------
    ndarray, shape (history + 1, N, d)
    """
    if velocity is None:
        return np.repeat(points[None], history + 1, axis=0)
    back = np.arange(history, -1, -1, dtype=np.float64)[:, None, None]
    return points[None] - back * velocity[None] * frame_dt


def _point_field(mesh: Mesh, name: str, shape_tail: tuple, source: Optional[str]) -> Optional[np.ndarray]:
    if name not in mesh.point_data:
        return None
    arr = np.asarray(mesh.point_data[name])
    if arr.ndim == 2 and arr.shape[1] == 3 and shape_tail == (2,):  # 2D velocities padded to 3 by VTK
        arr = arr[:, :2]
    if arr.shape != (mesh.num_points,) + shape_tail:
        raise DataError(f"point field {name!r} must have shape {(mesh.num_points,) + shape_tail}, got {arr.shape}",
                        source)
    if not np.isfinite(arr.astype(np.float64)).all():
        raise DataError(f"point field {name!r} holds NaN/inf values", source)
    return arr


def write_pvd(path: PathLike, files: List[Path], times: List[float]) -> Path:
    """Write a ParaView ``.pvd`` collection of ``files`` (relative names) at ``times``, atomically."""
    path = Path(path)
    lines = ['<?xml version="1.0"?>',
             '<VTKFile type="Collection" version="0.1" byte_order="LittleEndian">',
             "  <Collection>"]
    for f, t in zip(files, times):
        rel = os.path.relpath(f, path.parent)
        lines.append(f'    <DataSet timestep="{t:.9g}" group="" part="0" file="{rel}"/>')
    lines += ["  </Collection>", "</VTKFile>", ""]
    with atomic_write(path, "w") as handle:
        handle.write("\n".join(lines))
    return path


def _pillow_available() -> bool:
    try:
        import PIL  # noqa: F401
    except ImportError:
        return False
    return True


def write_animation(out_dir: PathLike, positions: np.ndarray, material: Optional[np.ndarray], frame_dt: float,
                    every: int = 1, name: str = "rollout") -> List[Path]:
    """Animate particle frames: ``out_dir/<name>.gif`` with pillow, else ``out_dir/frames/<name>_0000.png ...``.

    Parameters
    ----------
    positions : ndarray, shape (F, N, d)
        3D frames are drawn in a 3D view.
    material : ndarray, shape (N,), optional
        Colours.
    every : int
        Draw every ``every``-th frame.

    Returns
    -------
    list of Path
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out_dir = Path(out_dir)
    frames = positions[:: max(1, int(every))]
    n, d = positions.shape[1], positions.shape[2]
    keep = np.arange(n)
    if n > MAX_PLOT_POINTS:
        keep = np.sort(np.random.default_rng(0).choice(n, MAX_PLOT_POINTS, replace=False))
    colours = None if material is None else np.asarray(material)[keep]
    lo, hi = positions.reshape(-1, d).min(0), positions.reshape(-1, d).max(0)
    pad = 0.05 * np.maximum(hi - lo, 1e-9)
    fig = Figure(figsize=(5, 5), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111, projection="3d" if d == 3 else None)
    size = max(0.5, min(8.0, 4000.0 / len(keep)))
    first = frames[0][keep]
    if d == 3:
        scatter = ax.scatter(first[:, 0], first[:, 1], first[:, 2], s=size, c=colours, cmap="viridis",
                             vmin=0, vmax=2)
        ax.set_zlim(lo[2] - pad[2], hi[2] + pad[2])
    else:
        scatter = ax.scatter(first[:, 0], first[:, 1], s=size, c=colours, cmap="viridis", vmin=0, vmax=2)
        ax.set_aspect("equal")
    ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
    ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
    title = ax.set_title("")

    def draw(k: int) -> None:
        pts = frames[k][keep]
        if d == 3:
            scatter._offsets3d = (pts[:, 0], pts[:, 1], pts[:, 2])
        else:
            scatter.set_offsets(pts)
        title.set_text(f"t = {k * every * frame_dt:.3f} s")

    written: List[Path] = []
    if _pillow_available():
        from matplotlib.animation import PillowWriter

        final = out_dir / f"{name}.gif"
        with atomic_path(final) as tmp:
            writer = PillowWriter(fps=min(30, max(1, int(round(1.0 / max(frame_dt * every, 1e-6))))))
            with writer.saving(fig, str(tmp), dpi=80):
                for k in range(len(frames)):
                    draw(k)
                    writer.grab_frame()
        written.append(final)
    else:  # pragma: no cover - pillow ships with matplotlib
        folder = out_dir / "frames"
        for k in range(len(frames)):
            draw(k)
            final = folder / f"{name}_{k:04d}.png"
            with atomic_path(final) as tmp:
                fig.savefig(tmp, format="png")
            written.append(final)
    return written


def rollout(
    checkpoint: PathLike,
    initial,
    steps: int,
    out_dir: PathLike,
    query_points=None,
    bounds=None,
    animation: bool = True,
    every: int = 1,
    device: str = "cpu",
    progress: bool = True,
) -> RolloutResult:
    """Predict ``steps`` frames from an initial particle set and write them for ParaView.

    Parameters
    ----------
    checkpoint : path-like
        A ``giorom`` or ``gns`` checkpoint (:func:`graphops.train.dynamics.train_dynamics`).
    initial : Mesh, path-like or array (N, d)
        The particles (see the module docstring for the optional point fields).
    steps : int
        Frames to predict.
    out_dir : path-like
        Output folder (created).
    query_points : Mesh, path-like or array (Q, d), optional
        Write the decoded motion of these points (giorom only) instead of the particles.
    bounds : array-like (2, d), optional
        Wall box; default: the training domain stored in the checkpoint.
    animation : bool
        Also write ``rollout.gif`` (PNG frames without pillow).
    every : int
        Animate every ``every``-th frame.
    device : str
    progress : bool

    Returns
    -------
    RolloutResult

    Raises
    ------
    CheckpointError, MeshError, DataError, ConfigError
        Bad checkpoint, unreadable file, particles of the wrong dimension, NaN,
        particles outside the wall box, query points outside the domain.
    """
    from .io import write_mesh

    model = load_dynamics_model(checkpoint, device)
    cloud = _as_cloud(initial, "initial particles")
    source = cloud.source if isinstance(initial, Mesh) or not isinstance(initial, (str, os.PathLike)) else str(initial)
    points = np.asarray(cloud.points, dtype=np.float64)
    if points.shape[0] == 0:
        raise MeshError("the initial particle set is empty", source)
    if points.shape[1] != model.dim:
        raise DataError(f"the checkpoint's model is {model.dim}D but the initial particles are {points.shape[1]}D",
                        source)
    velocity = _point_field(cloud, "velocity", (model.dim,), source)
    material = _point_field(cloud, "material", (), source)
    frame_dt = float(model.frame_dt)
    history = initial_history(points, model.history, frame_dt, None if velocity is None else velocity.astype(float))
    queries = None
    if query_points is not None:
        queries = np.asarray(_as_cloud(query_points, "query points").points, dtype=np.float64)
    started = time.perf_counter()
    try:
        result = model.rollout(history, int(steps), material=material, bounds=bounds, query_points=queries,
                               progress=progress)
    except GraphopsError as exc:
        if exc.path is None:
            raise type(exc)(exc.problem, source) from None
        raise
    seconds = time.perf_counter() - started
    key = "positions" if queries is None else "query_positions"
    positions = result[key].detach().cpu().numpy().astype(np.float64)
    out = Path(out_dir).expanduser()
    prefix = "frame" if queries is None else "query"
    files: List[Path] = []
    sparse_flag = None
    if queries is None:
        sparse_flag = np.zeros(len(points), dtype=np.int64)
        sparse_flag[result["sparse_index"].cpu().numpy()] = 1
    mat_out = None if queries is not None else (
        np.full(len(points), int(model.default_material), dtype=np.int64) if material is None
        else np.asarray(material).astype(np.int64))
    for k in range(positions.shape[0]):
        fields: Dict[str, np.ndarray] = {"displacement": positions[k] - positions[0]}
        if k > 0:
            fields["velocity"] = (positions[k] - positions[k - 1]) / frame_dt
        else:
            fields["velocity"] = np.zeros_like(positions[0]) if velocity is None or queries is not None \
                else velocity.astype(np.float64)
        if sparse_flag is not None:
            fields["sparse_particle"] = sparse_flag
            fields["material"] = mat_out
        path = out / f"{prefix}_{k:04d}.vtu"
        write_mesh(path, Mesh(positions[k], {}), point_data=fields)
        files.append(path)
    pvd = write_pvd(out / ("rollout.pvd" if queries is None else "query.pvd"), files,
                    [k * frame_dt for k in range(len(files))])
    anim: List[Path] = []
    if animation:
        anim = write_animation(out, positions, mat_out, frame_dt, every=every,
                               name="rollout" if queries is None else "query")
    return RolloutResult(positions=positions, frames=files, pvd=pvd, animation=anim, seconds=seconds,
                         model_name=model.config["name"])
