"""Scale-only normalisation of the PDE fields ``f``, ``g`` and ``y``.

Each field is divided by one positive number per channel, its root mean square
over all nodes of the training set. No mean is subtracted, so a zero field (the
zero boundary values that BENO's first branch sees, the zero source of the
second) stays exactly zero, and the map from (f, g) to y stays linear.

Problems without some of these fields (``elasticity-holes`` has no source
``f``) fit a normaliser with ``required=("y",)``: fields that no training
sample has are dropped from :attr:`FieldNormalizer.fields` instead of raising.

Multi-channel fields get one scale per channel: an imported dataset's ``f``
holds several named input fields and scalars side by side (a conductivity near
1 next to a source near 100) and its ``y`` may be a displacement vector, so
each named field and each vector component is scaled by its own RMS. A field
with no channels (an import without input fields) keeps an empty scale.
"""
from __future__ import annotations

from typing import Dict, Iterable, Optional, Sequence

import torch
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

from ..errors import CheckpointError, DataError

#: The fields normalised by default.
DEFAULT_FIELDS = ("f", "g", "y")


def _sample_name(data: Data, index: int) -> str:
    sid = getattr(data, "sample_id", None)
    if sid is None:
        return f"sample #{index}"
    if isinstance(sid, torch.Tensor):
        sid = sid.tolist()
        if isinstance(sid, list) and len(sid) == 1:
            sid = sid[0]
    return f"sample {sid}"


def check_finite(data: Data, index: int = 0, fields: Iterable[str] = ("pos",) + DEFAULT_FIELDS) -> None:
    """Raise :class:`DataError` if a field of ``data`` holds NaN or inf.

    Parameters
    ----------
    data : Data
        One graph.
    index : int
        Its position in the dataset, named in the message when it has no ``sample_id``.
    fields : iterable of str
        Attributes to check (missing ones are skipped).
    """
    for name in fields:
        value = getattr(data, name, None)
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            bad = ~torch.isfinite(value)
            if bad.any():
                count = int(bad.sum())
                raise DataError(f"{_sample_name(data, index)}: field {name!r} has {count} NaN/inf value(s)")


class FieldNormalizer(BaseTransform):
    """Divide the fields ``f``, ``g``, ``y`` of a graph (or batch) by fixed scales.

    Parameters
    ----------
    fields : sequence of str
        Node fields to scale. A field of shape (N,) gets one scale, a field of
        shape (N, C) one scale per channel.
    required : sequence of str, optional
        Fields :meth:`fit` must find in the data (default: all of ``fields``).
        The others are optional: when no training sample has one, :meth:`fit`
        drops it from ``fields``.

    Notes
    -----
    Fit it on the training set with :meth:`fit`; apply it as a PyG transform
    (``normalizer(data)`` returns a shallow copy with scaled fields, missing
    fields skipped) and undo the scaling of predictions with :meth:`inverse_y`.
    :meth:`state_dict` holds plain tensors only, so it survives
    ``torch.load(weights_only=True)``.
    """

    def __init__(self, fields: Sequence[str] = DEFAULT_FIELDS, required: Optional[Sequence[str]] = None) -> None:
        self.fields = tuple(fields)
        self.required = self.fields if required is None else tuple(required)
        unknown = [name for name in self.required if name not in self.fields]
        if unknown:
            raise ValueError(f"required field(s) {', '.join(unknown)} not among the fields {', '.join(self.fields)}")
        self.scales: Dict[str, torch.Tensor] = {}

    @property
    def fitted(self) -> bool:
        """Whether scales are known for every field."""
        return all(name in self.scales for name in self.fields)

    def fit(self, dataset: Iterable[Data], check: bool = True) -> "FieldNormalizer":
        """Set each scale to the field's root mean square over all nodes of ``dataset``.

        Parameters
        ----------
        dataset : iterable of Data
            The training graphs.
        check : bool
            Also raise :class:`DataError` on NaN/inf in ``pos`` or any field.

        Returns
        -------
        FieldNormalizer
            ``self``, its ``fields`` narrowed to those found when some are optional.

        Raises
        ------
        DataError
            A required field is in no sample, a field changes its channel count,
            or (with ``check``) NaN/inf values.
        """
        sums: Dict[str, torch.Tensor] = {}
        counts: Dict[str, int] = {}
        for index, data in enumerate(dataset):
            if check:
                check_finite(data, index, ("pos",) + self.fields)
            for name in self.fields:
                value = getattr(data, name, None)
                if value is None:
                    continue
                value = value.detach().to(torch.float64)
                flat = value.reshape(value.shape[0], -1) if value.dim() > 1 else value.reshape(-1, 1)
                total = (flat * flat).sum(0)
                if name in sums and sums[name].shape != total.shape:
                    raise DataError(
                        f"{_sample_name(data, index)}: field {name!r} has {total.numel()} channel(s), "
                        f"earlier samples had {sums[name].numel()}"
                    )
                sums[name] = sums.get(name, 0) + total
                counts[name] = counts.get(name, 0) + flat.shape[0]
        missing = [name for name in self.required if name not in sums]
        if missing:
            raise DataError(f"cannot fit the normaliser: no sample has field(s) {', '.join(missing)}")
        self.fields = tuple(name for name in self.fields if name in sums)
        for name in self.fields:
            rms = torch.sqrt(sums[name] / max(counts[name], 1))
            rms = torch.where(rms > 1e-12, rms, torch.ones_like(rms))  # an all-zero field keeps scale 1
            self.scales[name] = rms.to(torch.float32)
        return self

    def _scale_for(self, name: str, value: torch.Tensor) -> torch.Tensor:
        scale = self.scales[name].to(device=value.device, dtype=value.dtype)
        return scale if value.dim() > 1 else scale.reshape(())

    def forward(self, data: Data) -> Data:
        """Scale the fields of ``data`` (already a shallow copy when called as a transform)."""
        if not self.fitted:
            raise RuntimeError("FieldNormalizer used before fit() or load_state_dict()")
        for name in self.fields:
            value = getattr(data, name, None)
            if isinstance(value, torch.Tensor):
                setattr(data, name, value / self._scale_for(name, value))
        return data

    def inverse(self, name: str, value: torch.Tensor) -> torch.Tensor:
        """Undo the scaling of field ``name``: (N,) or (N, C) -> same shape in physical units."""
        return value * self._scale_for(name, value)

    def inverse_y(self, y: torch.Tensor) -> torch.Tensor:
        """Predictions in normalised units (N, C) -> physical units (N, C)."""
        return self.inverse("y", y)

    def state_dict(self) -> Dict[str, torch.Tensor]:
        """The scales, one float32 tensor per field (shape (C,))."""
        return {name: scale.clone() for name, scale in self.scales.items()}

    def load_state_dict(self, state: Dict[str, torch.Tensor]) -> "FieldNormalizer":
        """Restore scales written by :meth:`state_dict`.

        Raises
        ------
        CheckpointError
            If a field is missing or a scale is not a positive finite tensor.
        """
        if not isinstance(state, dict):
            raise CheckpointError("normaliser state is not a mapping")
        scales = {}
        for name in self.fields:
            value = state.get(name)
            if not isinstance(value, torch.Tensor) or not torch.isfinite(value).all() or (value <= 0).any():
                raise CheckpointError(f"normaliser state has no valid scale for field {name!r}")
            scales[name] = value.detach().to(torch.float32).clone()
        self.scales = scales
        return self

    @classmethod
    def from_state_dict(cls, state: Dict[str, torch.Tensor]) -> "FieldNormalizer":
        """A normaliser for exactly the fields in ``state``."""
        if not isinstance(state, dict):
            raise CheckpointError("normaliser state is not a mapping")
        return cls(fields=tuple(state)).load_state_dict(state)

    def __repr__(self) -> str:
        shown = {k: [round(float(x), 6) for x in v.reshape(-1)] for k, v in self.scales.items()}
        return f"{self.__class__.__name__}({shown or 'unfitted'})"


def fit_normalizer(dataset: Iterable[Data], fields: Optional[Sequence[str]] = None,
                   required: Optional[Sequence[str]] = None) -> FieldNormalizer:
    """Shorthand for ``FieldNormalizer(fields, required).fit(dataset)``."""
    return FieldNormalizer(fields or DEFAULT_FIELDS, required).fit(dataset)
