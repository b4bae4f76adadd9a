"""What to import from a user's simulation files: the import spec.

A spec names point fields of the files and says what each becomes for the
models (see :mod:`graphops.data.imported` for how a mesh becomes a sample):

.. code-block:: yaml

    inputs: [k, q]            # point fields the model sees (scalar or vector)
    targets: [T]              # point fields the model predicts (several allowed)
    scalars: [load]           # optional per-sample numbers: the file's field data, or...
    scalars_csv: params.csv   # ...a CSV with a column "file" (file name) and one column per scalar
    boundary:                 # optional: the boundary that carries prescribed values
      groups: [outer, holes]  # gmsh physical groups by name, or
      marker: is_dirichlet    # a point field, non-zero at the marked nodes
      values: T_bc            # optional point field of the prescribed values (what BENO reads)
    family: shape_id          # optional scalar giving each sample's family (for splits)

Every key but ``targets`` is optional. Names are kept as they are in the files.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from ..errors import ConfigError

PathLike = Union[str, "os.PathLike[str]"]

#: Keys a spec may have.
SPEC_KEYS = ("inputs", "targets", "scalars", "scalars_csv", "boundary", "family")
#: Keys of the ``boundary`` section.
BOUNDARY_KEYS = ("groups", "marker", "values")
#: Column of a scalars CSV that holds the file name.
CSV_FILE_COLUMN = "file"


@dataclass(frozen=True)
class ImportSpec:
    """Which fields of the files are inputs, targets, per-sample scalars and boundary data.

    Attributes
    ----------
    inputs : tuple of str
        Point fields concatenated (in this order) into the model input ``f`` (N, C_in).
    targets : tuple of str
        Point fields concatenated into the target ``y`` (N, C_out).
    scalars : tuple of str
        Per-sample numbers, appended to ``f`` as constant channels.
    scalars_csv : str or None
        CSV file giving the scalars per file name (else the files' field data).
    boundary_groups : tuple of str
        Physical groups whose nodes are the marked boundary.
    boundary_marker : str or None
        Point field marking the boundary nodes (non-zero = marked).
    boundary_values : str or None
        Point field of the boundary values ``g`` (kept at the marked nodes, 0 elsewhere).
    family : str or None
        Scalar whose (integer) value is the sample's family.
    """

    inputs: tuple = ()
    targets: tuple = ()
    scalars: tuple = ()
    scalars_csv: Optional[str] = None
    boundary_groups: tuple = ()
    boundary_marker: Optional[str] = None
    boundary_values: Optional[str] = None
    family: Optional[str] = None
    _csv_rows: Dict[str, Dict[str, float]] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> Dict[str, Any]:
        """The spec as plain JSON (the YAML layout), as stored in the manifest."""
        out: Dict[str, Any] = {"inputs": list(self.inputs), "targets": list(self.targets)}
        if self.scalars:
            out["scalars"] = list(self.scalars)
        if self.scalars_csv:
            out["scalars_csv"] = self.scalars_csv
        boundary = {k: v for k, v in (("groups", list(self.boundary_groups)), ("marker", self.boundary_marker),
                                      ("values", self.boundary_values)) if v}
        if boundary:
            out["boundary"] = boundary
        if self.family:
            out["family"] = self.family
        return out

    @property
    def point_fields(self) -> List[str]:
        """Every point field the spec reads from a training file (inputs, targets, boundary)."""
        names = list(self.inputs) + list(self.targets)
        names += [n for n in (self.boundary_marker, self.boundary_values) if n]
        return list(dict.fromkeys(names))

    @property
    def input_fields(self) -> List[str]:
        """The point fields a new mesh needs for prediction (inputs and boundary data)."""
        names = list(self.inputs) + [n for n in (self.boundary_marker, self.boundary_values) if n]
        return list(dict.fromkeys(names))

    def csv_scalars(self, file: str) -> Optional[Dict[str, float]]:
        """The CSV row of a file (matched by file name, then by stem), or None."""
        rows = self._csv_rows
        name = Path(file).name
        return rows.get(name, rows.get(Path(name).stem))


def _names(value: Any, key: str, source: Optional[PathLike], allow_empty: bool = True) -> tuple:
    if value is None:
        value = []
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{key}: must be a list of field names, got {value!r}", source)
    if len(set(value)) != len(value):
        raise ConfigError(f"{key}: names a field twice ({value!r})", source)
    if not value and not allow_empty:
        raise ConfigError(f"{key}: name at least one point field", source)
    return tuple(value)


def _name(value: Any, key: str, source: Optional[PathLike]) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}: must be a field name, got {value!r}", source)
    return value


def read_scalars_csv(path: PathLike, names: Sequence[str]) -> Dict[str, Dict[str, float]]:
    """Rows of a scalars CSV: file name -> {scalar name: value}.

    Raises
    ------
    ConfigError
        Missing file, no ``file`` column, a named scalar without a column, a
        value that is not a number, or a file listed twice.
    """
    p = Path(path).expanduser()
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise ConfigError("scalars CSV not found", p) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the scalars CSV ({exc})", p) from None
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip() for c in (reader.fieldnames or [])]
    if CSV_FILE_COLUMN not in columns:
        raise ConfigError(f"the scalars CSV needs a column {CSV_FILE_COLUMN!r} (found {columns})", p)
    missing = [n for n in names if n not in columns]
    if missing:
        raise ConfigError(f"the scalars CSV has no column for scalar(s) {', '.join(missing)} (found {columns})", p)
    rows: Dict[str, Dict[str, float]] = {}
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        key = row[CSV_FILE_COLUMN]
        if key in rows:
            raise ConfigError(f"line {line}: file {key!r} is listed twice", p)
        values = {}
        for n in names:
            try:
                values[n] = float(row[n])
            except ValueError:
                raise ConfigError(f"line {line}: {n}={row[n]!r} is not a number", p) from None
        rows[key] = values
    return rows


def parse_spec(raw: Mapping[str, Any], source: Optional[PathLike] = None,
               base_dir: Optional[PathLike] = None) -> ImportSpec:
    """Check a spec mapping (the YAML layout of the module docstring) and build an :class:`ImportSpec`.

    Parameters
    ----------
    raw : mapping
    source : path-like, optional
        The YAML file it came from (named in errors).
    base_dir : path-like, optional
        Folder a relative ``scalars_csv`` is resolved against (default: that of ``source``).

    Raises
    ------
    ConfigError
        Naming the key: unknown keys, no targets, a field that is both input
        and target, groups and marker together, a family that is not a scalar.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError("an import spec must be a mapping with at least 'targets'", source)
    unknown = sorted(set(raw) - set(SPEC_KEYS))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key (allowed: {', '.join(SPEC_KEYS)})", source)
    inputs = _names(raw.get("inputs"), "inputs", source)
    targets = _names(raw.get("targets"), "targets", source, allow_empty=False)
    both = sorted(set(inputs) & set(targets))
    if both:
        raise ConfigError(f"targets: {both[0]!r} is also an input", source)
    scalars = _names(raw.get("scalars"), "scalars", source)
    boundary = raw.get("boundary") or {}
    if not isinstance(boundary, Mapping):
        raise ConfigError(f"boundary: must be a mapping with keys {', '.join(BOUNDARY_KEYS)}, got {boundary!r}", source)
    unknown = sorted(set(boundary) - set(BOUNDARY_KEYS))
    if unknown:
        raise ConfigError(f"boundary.{unknown[0]}: unknown key (allowed: {', '.join(BOUNDARY_KEYS)})", source)
    groups = _names(boundary.get("groups"), "boundary.groups", source)
    marker = _name(boundary.get("marker"), "boundary.marker", source)
    values = _name(boundary.get("values"), "boundary.values", source)
    if groups and marker:
        raise ConfigError("boundary: give either groups or marker, not both", source)
    for name in (marker, values):
        if name in targets:
            raise ConfigError(f"boundary: {name!r} is also a target", source)
    family = _name(raw.get("family"), "family", source)
    if family is not None and family not in scalars:
        scalars = scalars + (family,)
    csv_path = raw.get("scalars_csv")
    rows: Dict[str, Dict[str, float]] = {}
    if csv_path is not None:
        if not isinstance(csv_path, (str, os.PathLike)) or not str(csv_path):
            raise ConfigError(f"scalars_csv: must be a file path, got {csv_path!r}", source)
        if not scalars:
            raise ConfigError("scalars_csv: name the columns to read under 'scalars'", source)
        p = Path(csv_path).expanduser()
        if not p.is_absolute():
            base = Path(base_dir) if base_dir is not None else (Path(source).parent if source is not None else Path.cwd())
            p = base / p
        csv_path = str(p.resolve())
        rows = read_scalars_csv(csv_path, scalars)
    return ImportSpec(inputs, targets, scalars, csv_path, groups, marker, values, family, rows)


def load_spec(path: PathLike) -> ImportSpec:
    """Read a YAML import spec file and check it (see :func:`parse_spec`)."""
    from ..utils.yaml_file import read_yaml_file

    p = Path(path).expanduser()
    return parse_spec(read_yaml_file(p, "import spec", allow_empty=True) or {}, source=p)


def spec_from_dict(spec: Union[ImportSpec, Mapping[str, Any], PathLike]) -> ImportSpec:
    """An :class:`ImportSpec` from a spec, a mapping, or a YAML file path."""
    if isinstance(spec, ImportSpec):
        return spec
    if isinstance(spec, Mapping):
        return parse_spec(spec)
    return load_spec(spec)


__all__ = ["ImportSpec", "parse_spec", "load_spec", "spec_from_dict", "read_scalars_csv"]
