"""Pass ``device``: the device kind's elaboration (:meth:`codegen.kinds.devices.DeviceKind.elaborate`)."""

from __future__ import annotations

from typing import Any

from ..kinds.devices import device_kind
from ..spec import Spec


def run(spec: Spec, fields: dict[str, Any]) -> dict[str, Any]:
    d = spec.device
    return {"device": device_kind(d.kind).elaborate(d)}
