"""Sweeps: a tiny grid on a Dask LocalCluster started here, results per point, resumption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codegen.errors import CodegenError
from codegen.learn.overrides import override
from codegen.learn.sweep import POINTS_FILE, grid_points, load_done, run_sweep, summarise
from codegen.load import load_spec
from tests.signals import ctrl_c_default

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1,
            threads_per_worker=2,
            processes=False,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},
        ) as lc,
        Client(lc) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def spec():
    return override(load_spec(ROOT / "examples" / "kiraz_case1.yaml"), {"training.epochs": 30})


def test_override_validates_and_rejects_unknown_paths(spec):
    s = override(spec, {"nudge.beta": "2u", "training.learning_rate": 3e-9})
    assert s.nudge.beta == pytest.approx(2e-6) and s.training.learning_rate == 3e-9
    with pytest.raises(CodegenError, match="unknown spec path"):
        override(spec, {"nudge.betta": 1e-6})
    with pytest.raises(CodegenError, match="invalid spec"):
        override(spec, {"nudge.beta": -1.0})  # β > 0 is checked by the spec


def test_grid_points_order_and_keys():
    pts = grid_points([("a.b", [1, 2]), ("c", ["x"])], [0, 1], ("full", "resistors_only"))
    assert len(pts) == 8 and len({p.key for p in pts}) == 8
    assert pts[0].params == (("a.b", 1), ("c", "x")) and pts[0].energy == "full" and pts[1].init_seed == 1
    with pytest.raises(CodegenError, match="energy"):
        grid_points([], [0], ("bogus",))


def test_sweep_runs_writes_and_resumes(spec, client, tmp_path):
    lrs, betas = [1e-9, 2e-8], [1e-6]
    # "interrupted" run: only the first learning rate, plus a torn last line
    rows1, ran1 = run_sweep(
        spec, [("training.learning_rate", lrs[:1]), ("nudge.beta", betas)], [0, 1], tmp_path, client=client
    )
    assert ran1 == 2
    first = (tmp_path / POINTS_FILE).read_text()
    with (tmp_path / POINTS_FILE).open("a") as fh:
        fh.write('{"key": "torn')
    # the whole grid: the two finished points are reused, not recomputed
    grid = [("training.learning_rate", lrs), ("nudge.beta", betas)]
    rows, ran = run_sweep(spec, grid, [0, 1], tmp_path, client=client)
    assert ran == 2
    text = (tmp_path / POINTS_FILE).read_text()
    assert text.startswith(first)
    assert len(load_done(tmp_path)) == 4
    for r in rows1:  # reused rows are byte-identical (their timing included)
        assert next(x for x in rows if x["key"] == r["key"]) == json.loads(json.dumps(r))
    # a third run does nothing
    assert run_sweep(spec, grid, [0, 1], tmp_path, client=client)[1] == 0
    # the results are physical: η = 1e-9 S²/V² converges from seed 1 within 30 steps (as the
    # example does), the loss never rises above its start for the stable rate
    by = {(r["training.learning_rate"], r["init_seed"]): r for r in rows}
    assert by[(1e-9, 1)]["converged"] and by[(1e-9, 1)]["final_loss"] <= 5e-5
    assert all(r["final_loss"] <= r["initial_loss"] for r in rows if r["training.learning_rate"] == 1e-9)
    csv_lines = (tmp_path / "sweep.csv").read_text().splitlines()
    assert csv_lines[0].startswith("training.learning_rate,nudge.beta,energy,init_seed,")
    assert len(csv_lines) == 5
    s = summarise(rows, grid)
    assert s["loss"].shape == (1, 2) and s["rate"][0, 0] == pytest.approx(
        sum(by[(1e-9, k)]["converged"] for k in (0, 1)) / 2
    )


def test_sweep_cli_on_local_processes(tmp_path):
    """The CLI end to end on its own LocalCluster (one worker process), heatmaps included."""
    from codegen.cli import main

    out = tmp_path / "sw"
    argv = [
        "sweep",
        str(ROOT / "examples" / "kiraz_case1.yaml"),
        "--param",
        "training.learning_rate=1e-9",
        "--param",
        "nudge.beta=1e-6,1e-3",
        "--init-seeds",
        "1",
        "--epochs",
        "5",
        "--workers",
        "1",
        "-q",
        "-o",
        str(out),
    ]
    assert main(argv) == 0
    for f in ("points.jsonl", "sweep.csv", "final_loss.png", "convergence.png"):
        assert (out / f).stat().st_size > 0
    assert len(load_done(out)) == 2


def test_sweep_on_an_existing_cluster_by_address(spec, client, tmp_path):
    """``cluster="tcp://…"`` connects a new Client to a running scheduler (here the in-process one)."""
    addr = client.scheduler.address
    rows, ran = run_sweep(spec, [("training.learning_rate", [1e-9])], [1], tmp_path, cluster=addr)
    assert ran == 1 and rows[0]["converged"]


# --------------------------------------------------------------------------- stale results (issue 16)
KIRAZ = ROOT / "examples" / "kiraz_case1.yaml"


def test_point_key_covers_every_input_of_a_result(spec, monkeypatch):
    """A point's key changes with anything that changes its result: the epochs budget, the spec,
    the backend, the convergence threshold, the dataset and the code version."""
    import codegen.learn.sweep as sw

    def key(s=spec, backend="golden", loss=5e-5):
        cid = sw.config_id(sw.sweep_config(s, backend, loss))
        return grid_points([("training.learning_rate", [1e-9])], [0], ("full",), cid)[0].key

    base = key()
    assert key() == base  # deterministic
    variants = {
        "epochs": key(override(spec, {"training.epochs": 31})),
        "spec": key(override(spec, {"nudge.beta": 2e-6})),
        "backend": key(backend="spice"),
        "converged_loss": key(loss=1e-3),
    }
    monkeypatch.setattr(sw, "code_version", lambda: "0.0.0+000000000000")
    variants["code"] = key()
    monkeypatch.undo()
    monkeypatch.setattr(sw, "_dataset_sha256", lambda s: "0" * 64)
    variants["dataset"] = key()
    assert all(k != base for k in variants.values()), variants
    assert len(set(variants.values())) == len(variants)
    v = sw.code_version()
    assert v.startswith(__import__("codegen").__version__ + "+") and v == sw.code_version()


def test_folder_of_another_configuration_is_refused(spec, client, tmp_path):
    """``--epochs 3`` after ``--epochs 2`` (or another backend, threshold or chip) must not reuse
    the 2-epoch rows; ``fresh=True`` discards them and runs again."""
    from codegen.learn.sweep import CONFIG_FILE, SweepConfigMismatch

    grid = [("training.learning_rate", [1e-9])]
    s2 = override(spec, {"training.epochs": 2})
    assert run_sweep(s2, grid, [0], tmp_path, client=client)[1] == 1
    assert run_sweep(s2, grid, [0], tmp_path, client=client)[1] == 0  # same configuration: reused
    before = (tmp_path / POINTS_FILE).read_bytes()
    cases = [
        (override(spec, {"training.epochs": 3}), {}, "training.epochs (--epochs): 2 there, 3 now"),
        (s2, {"backend": "spice"}, "--backend: 'golden' there, 'spice' now"),
        (s2, {"converged_loss": 1.0}, "--converged-loss (V²): 5e-05 there, 1.0 now"),
        (override(s2, {"nudge.beta": 2e-6}), {}, "chip spec nudge.beta: 1e-06 there, 2e-06 now"),
    ]
    for s, kw, what in cases:
        with pytest.raises(SweepConfigMismatch, match="another configuration") as exc:
            run_sweep(s, grid, [0], tmp_path, client=client, **kw)
        assert what in str(exc.value) and "--fresh" in str(exc.value) and "-o DIR" in str(exc.value)
        assert (tmp_path / POINTS_FILE).read_bytes() == before  # nothing touched
    s3 = override(spec, {"training.epochs": 3})
    rows, ran = run_sweep(s3, grid, [0], tmp_path, client=client, fresh=True)
    assert ran == 1 and len(load_done(tmp_path)) == 1
    assert json.loads((tmp_path / CONFIG_FILE).read_text())["config"]["epochs"] == 3
    assert rows[0]["key"] not in {json.loads(line)["key"] for line in before.decode().splitlines()}


def test_points_without_a_configuration_record_are_refused(spec, client, tmp_path):
    """A folder from an older codegen (points.jsonl, no sweep.json) has an unknown configuration."""
    from codegen.learn.sweep import SweepConfigMismatch

    (tmp_path / POINTS_FILE).write_text('{"key": "0123456789abcdef", "final_loss": 1.0}\n')
    with pytest.raises(SweepConfigMismatch, match="configuration is unknown"):
        run_sweep(spec, [("training.learning_rate", [1e-9])], [0], tmp_path, client=client)


def test_cli_refuses_a_stale_folder_with_exit_2(spec, client, tmp_path, capsys):
    from codegen.cli import main

    out = tmp_path / "sw"
    run_sweep(
        override(spec, {"training.epochs": 2}), [("training.learning_rate", [1e-9])], [0], out, client=client
    )
    argv = ["sweep", str(KIRAZ), "--param", "training.learning_rate=1e-9", "--init-seeds", "1"]
    assert main([*argv, "--epochs", "200", "-q", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "another configuration" in err and "2 there, 200 now" in err and "--fresh" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--workers", "0"], "--workers must be ≥ 1"),
        (["--workers", "-1"], "--workers must be ≥ 1"),
        (["--cluster", "tcp:/127.0.0.1"], "is not a Dask scheduler address"),
        (["--cluster", "tcp://127.0.0.1:99999"], "port 1–65535"),
        (["--cluster", "localhost"], "expected tcp://HOST:PORT"),
        (["--connect-timeout", "0"], "--connect-timeout must be > 0"),
        (["--converged-loss", "nan"], "--converged-loss must be a finite loss"),
    ],
)
def test_cli_bad_options_exit_2_before_anything_starts(tmp_path, capsys, extra, message):
    import time

    from codegen.cli import main

    out = tmp_path / "sw"
    t0 = time.perf_counter()
    assert main(["sweep", str(KIRAZ), "--init-seeds", "1", "-q", "-o", str(out), *extra]) == 2
    assert time.perf_counter() - t0 < 5  # used to hang forever (--workers 0)
    assert message in capsys.readouterr().err
    assert not out.exists()  # nothing written


def test_run_sweep_rejects_zero_workers(spec, tmp_path):
    with pytest.raises(CodegenError, match="--workers must be a whole number ≥ 1"):
        run_sweep(spec, [], [0], tmp_path, workers=0)


def test_unreachable_cluster_is_a_clear_error_within_the_timeout(tmp_path, capsys):
    """Nothing listens on port 1: exit 2 after --connect-timeout, not a traceback after 30 s."""
    import time

    from codegen.cli import main

    out = tmp_path / "sw"
    argv = ["sweep", str(KIRAZ), "--init-seeds", "1", "-q", "-o", str(out)]
    t0 = time.perf_counter()
    assert main([*argv, "--cluster", "tcp://127.0.0.1:1", "--connect-timeout", "1"]) == 2
    assert time.perf_counter() - t0 < 15
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 1 s" in err
    assert "Traceback" not in err and not out.exists()


@pytest.mark.slow
def test_ctrl_c_stops_a_sweep_quietly_and_it_resumes(tmp_path):
    """SIGINT to the whole process group (what Ctrl-C in a terminal does) while points run: exit
    130, no traceback (Dask's CommClosedError, workers' KeyboardInterrupt), a message saying where
    the finished points are; the same command again reuses them."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "sw"
    argv = [sys.executable, "-m", "codegen", "sweep", str(KIRAZ), "--param"]
    argv += [
        "training.learning_rate=1e-9,2e-9,3e-9",
        "--init-seeds",
        "2",
        "--epochs",
        "60",
    ]  # long enough that SIGINT lands mid-sweep under load
    argv += ["--workers", "2", "-q", "-o", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        argv,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=ctrl_c_default,  # Ctrl-C as in a terminal, also where the runner ignores SIGINT
    )
    points = out / POINTS_FILE
    deadline = time.monotonic() + 120
    try:
        while not (points.exists() and points.read_text().count("\n") >= 1):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no point finished within 120 s"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=600)  # a hang guard (the Dask workers stop under load)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()  # reap it and close its pipes (a leftover Popen fails a later test)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "CommClosedError" not in err and "WARNING" not in err, err
    assert f"finished points are in {points}" in err and "run the same command again" in err
    finished = load_done(out)
    assert 1 <= len(finished) < 6
    again = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{6 - len(finished)} points run now, {len(finished)} reused" in again.stdout
    after = load_done(out)
    assert all(after[k] == r for k, r in finished.items())


def test_a_worker_with_other_code_is_refused(spec, client, tmp_path, monkeypatch):
    """Points computed by a worker whose codegen differs from this process' are not recorded."""
    import codegen.learn.sweep as sw

    versions = iter(["0.1.0+aaaaaaaaaaaa"] + ["0.1.0+bbbbbbbbbbbb"] * 10)  # this process, then the worker
    monkeypatch.setattr(sw, "code_version", lambda: next(versions))
    with pytest.raises(
        CodegenError, match=r"a Dask worker runs codegen 0\.1\.0\+bbbb.*this process 0\.1\.0\+aaaa"
    ):
        run_sweep(override(spec, {"training.epochs": 1}), [], [0], tmp_path, client=client)
    assert load_done(tmp_path) == {}


def test_output_that_is_a_file_is_refused(spec, tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(CodegenError, match="not a folder"):
        run_sweep(spec, [], [0], tmp_path / "f", workers=1)
