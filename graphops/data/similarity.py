"""Similarity laws: how a problem's inputs and outputs change when the geometry is scaled.

``graphops predict`` maps a user's mesh into the training data's frame by a
translation and a uniform scale, ``x' = c' + (x - c) / s`` with ``s`` the ratio
of the mesh's characteristic length to the training one (see
:mod:`graphops.data.frame`). A problem's similarity law says how its fields
must change so that the framed problem is the same physical problem; the
prediction made in the frame is then mapped back with the inverse law.

A :class:`PowerLaw` covers the laws of the built-in problems: every field is
multiplied by a power of ``s``. Derivatives scale as ``d/dx' = s d/dx``, so:

Poisson ``-div(a grad u) = f``
    ``u`` and ``a`` unchanged, ``f' = s**2 f``; Dirichlet values unchanged
    (``g' = g``); Neumann fluxes ``a du/dn' = s (a du/dn)``, so ``g' = s g``.
Plane-strain linear elasticity, traction ``t`` on a side, no body load
    Displacements scale with the part (``u' = u / s``); strains, stresses and
    the von Mises stress are unchanged, and so is the traction (it is a
    stress). The result does not depend on Young's modulus ``E`` at all
    (stress depends on the traction, Poisson's ratio and the shape only).

Linearity is a second invariance: a problem whose output is a linear function
of some inputs (Poisson in ``(f, g)`` with ``a`` fixed) can bring inputs of any
magnitude into the training range by one factor ``lambda`` and multiply the
prediction by it (:attr:`PowerLaw.linear_inputs`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Mapping, Tuple

import numpy as np


@dataclass(frozen=True)
class PowerLaw:
    """A similarity law in which each field scales with a power of the length ratio ``s``.

    With ``x' = x / s`` (a mesh ``s`` times larger than the training frame is
    shrunk by ``s``), an input field ``v`` becomes ``s**p v`` in the frame
    (``p = input_powers[name]``, 0 for names not listed), and the output
    predicted in the frame is multiplied by ``s**(-q)`` on the way back
    (``q = output_power``: the output's own power, so that ``out' = s**q out``).

    Attributes
    ----------
    input_powers : mapping of str to float
        Field name -> power ``p`` (``f`` -> 2 for a Poisson source).
    output_power : float
        Power ``q`` of every output channel.
    linear_inputs : tuple of str
        Inputs the output depends on linearly and jointly (homogeneous of
        degree 1); empty when the problem is not linear in any input.
    description : str
        The law in words, shown in the prediction notes and the docs.
    """

    input_powers: Mapping[str, float] = field(default_factory=dict)
    output_power: float = 0.0
    linear_inputs: Tuple[str, ...] = ()
    description: str = ""

    def inputs_to_frame(self, fields: Mapping[str, np.ndarray], scale: float) -> Dict[str, np.ndarray]:
        """The input fields of the framed problem.

        Parameters
        ----------
        fields : mapping of str to ndarray, each (N,) or (N, c)
            Model input fields in the user's units (booleans pass unchanged).
        scale : float
            ``s``: the mesh's characteristic length over the training one.

        Returns
        -------
        dict of str to ndarray
        """
        out: Dict[str, np.ndarray] = {}
        for name, value in fields.items():
            power = float(self.input_powers.get(name, 0.0))
            value = np.asarray(value)
            out[name] = value if power == 0.0 or value.dtype == bool else value * scale**power
        return out

    def output_from_frame(self, prediction: np.ndarray, scale: float) -> np.ndarray:
        """The prediction ``(N, C)`` made in the frame, in the user's units."""
        power = float(self.output_power)
        return prediction if power == 0.0 else prediction * scale ** (-power)


#: Poisson with Dirichlet values ``g`` on the whole boundary.
POISSON_DIRICHLET = PowerLaw(
    {"f": 2.0, "g": 0.0, "a": 0.0}, 0.0, ("f", "g"),
    "x' = x/s: f' = s^2 f, Dirichlet values g unchanged, u unchanged; linear in (f, g)",
)
#: Poisson with Neumann fluxes ``g`` on the whole boundary.
POISSON_NEUMANN = PowerLaw(
    {"f": 2.0, "g": 1.0, "a": 0.0}, 0.0, ("f", "g"),
    "x' = x/s: f' = s^2 f, Neumann flux g' = s g, u unchanged; linear in (f, g)",
)
#: Linear elasticity loaded by a traction, von Mises stress as the output.
ELASTICITY_STRESS = PowerLaw(
    {"g": 0.0}, 0.0, (),
    "x' = x/s: traction and stresses (von Mises) unchanged, displacement u' = u/s, independent of E",
)
