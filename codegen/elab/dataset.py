"""Pass ``dataset``: a user's data file enters the chip's hash and the training IR by its sha256.

A built-in dataset leaves ``spec_hash`` as :func:`codegen.load.spec_hash`.  With
``training.dataset.file`` the chip's hash covers the file's content, not where it lies: it is the
sha256 of the spec's canonical JSON with the file's name replaced by ``sha256:<hex>``, so
the same chip.yaml and data in another folder hash alike, and an edited data file changes it.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from ..spec import FileDataset, Spec


def _sha256(ds: FileDataset) -> str:
    from ..learn.datasets import read_data_file

    return read_data_file(ds.file, ds.label, display=ds.display_name).sha256


def training_fields(spec: Spec) -> dict[str, Any]:
    """The dataset fields of :class:`~codegen.ir.TrainingIR`."""
    ds = spec.training.dataset
    if not isinstance(ds, FileDataset):
        return {"dataset": ds.name}
    return {
        "dataset": os.path.basename(ds.file),
        "dataset_sha256": _sha256(ds),
        "dataset_label": ds.label,
        "standardize": ds.standardize,
        "dataset_path": ds.file,
    }


def run(spec: Spec, fields: dict[str, Any]) -> dict[str, Any]:
    ds = spec.training.dataset
    if not isinstance(ds, FileDataset):
        return {}
    sha = _sha256(ds)
    data = json.loads(spec.model_dump_json(by_alias=True))
    data["training"]["dataset"]["file"] = f"sha256:{sha}"
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return {"spec_hash": hashlib.sha256(blob.encode()).hexdigest()}
