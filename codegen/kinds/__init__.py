"""Kinds as registered plug-ins: each kind of device is one vertical slice in one folder.

A device kind (``codegen/kinds/devices/<kind>/``) holds its ``chip.yaml`` sub-model (a member of
the discriminated union on ``device.kind``, so the JSON schema lists the kinds), its IR dataclass
and elaboration, its golden equations (rate, pulse response, g↔w), its Verilog-A template
(``templates/veriloga/``) and its netlist spelling, registered with
:func:`codegen.kinds.devices.register`.  docs/extending.md walks through adding one.
"""

from __future__ import annotations

from .devices import DeviceKind, NetlistSpelling, device_kind, device_kinds, kind_of

__all__ = ["DeviceKind", "NetlistSpelling", "device_kind", "device_kinds", "kind_of"]
