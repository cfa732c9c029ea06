"""Golden model: the chip as a nonlinear resistive network (numpy/scipy), and its device model.

``from codegen.model import GoldenModel, Equilibrium, ConvergenceError``; see
:mod:`codegen.model.network` for the equations and :mod:`codegen.model.device` for the memristor.
"""

from .network import ConvergenceError, Equilibrium, GoldenModel, phase_name

__all__ = ["GoldenModel", "Equilibrium", "ConvergenceError", "phase_name"]
