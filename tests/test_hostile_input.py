"""Hostile chip.yaml files: every one is refused quickly with exit 2 and a message naming the file,
the line and the YAML path, never a traceback, and nothing is written.

The limits live in :mod:`codegen.load` (file size, nesting depth, nodes after alias expansion,
integer digits, plain keys) and :mod:`codegen.spec` (cost of the network, numeric bounds).
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codegen.errors import SpecError
from codegen.load import MAX_FILE_BYTES, MAX_NODES, load_spec, load_spec_text

ROOT = Path(__file__).resolve().parents[1]
BASE = (ROOT / "examples" / "xor.yaml").read_text()


def _edit(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def _laughs(levels: int = 9) -> str:
    """The "billion laughs" alias bomb: 10 ** levels strings from a few hundred bytes."""
    lines = ["  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "bomb:\n" + "\n".join(lines) + "\n"


#: (id, file bytes, YAML path in the message, fragment of the message, text on the reported line or None)
HOSTILE: list[tuple[str, bytes, str, str, str | None]] = [
    ("alias_bomb", (BASE + _laughs()).encode(), "bomb.l4", "alias bomb", "l4: &l4"),
    (
        "deep_list",
        _edit("layers: [2, 4, 1]", "layers: " + "[" * 20000 + "]" * 20000).encode(),
        "network.layers",
        "nesting",  # ours: "nesting deeper than 64 levels"; libyaml's own: "exceeded maximum nesting depth"
        "layers:",
    ),
    (
        "deep_list_995",  # under libyaml's own limit (1000): ours must catch it (RecursionError otherwise)
        _edit("layers: [2, 4, 1]", "layers: " + "[" * 995 + "]" * 995).encode(),
        "network.layers.0.0.0.0",
        "nesting deeper than 64 levels",
        "layers:",
    ),
    (
        "deep_map",
        _edit("layers: [2, 4, 1]", "layers: " + "{a: " * 20000 + "1" + "}" * 20000).encode(),
        "network.layers",
        "nesting",
        "layers:",
    ),
    (
        "list_key",
        (BASE + "[1, 2]: x\n").encode(),
        "",
        "a key must be a plain name, got a list",
        "[1, 2]: x",
    ),
    (
        "map_key",
        _edit("  g_min: 1u\n", "  g_min: 1u\n  ? {a: 1}\n  : 2\n").encode(),
        "device",
        "a key must be a plain name, got a mapping",
        "? {a: 1}",
    ),
    (
        "alias_key",
        (BASE + "x: &k k\n*k : 1\n").encode(),
        "",
        "a key must be a plain name, got the alias *k",
        "*k : 1",
    ),
    ("recursive_alias", (BASE + "x: &r [1, *r]\n").encode(), "x.1", "recursive alias *r", "x: &r"),
    (
        "int_5000_digits",
        _edit("seed: 0", "seed: " + "9" * 5000).encode(),
        "training.seed",
        "an integer of 5000 characters",
        "seed: 999",
    ),
    (
        "hex_int_5000_digits",
        _edit("seed: 0", "seed: 0x" + "f" * 5000).encode(),
        "training.seed",
        "an integer of 5002 characters",
        "seed: 0xfff",
    ),
    (
        "tab_indent",
        _edit("  g_min: 1u", "\tg_min: 1u").encode(),
        "device",
        "use spaces instead of the tab",
        "\tg_min: 1u",
    ),
    (
        "latin1",
        _edit("XOR with", "X\xe9OR with").encode("latin-1"),
        "",
        "not UTF-8 text: byte 0xe9",
        "OR with",
    ),
    (
        "nul_byte",
        _edit("XOR with", "X\x00OR with").encode(),
        "",
        "characters are not allowed: '\\x00' (U+0000)",
        "OR with",
    ),
    ("empty", b"", "", "holds no YAML document", None),
    ("only_comment", b"# nothing here\n", "", "holds no YAML document", None),
    ("scalar_top", b"42\n", "", "top level must be a mapping of sections (name,", "42"),
    ("list_top", b"- 1\n- 2\n", "", "top level must be a mapping", "- 1"),
    ("too_big", (BASE + "#" + "x" * MAX_FILE_BYTES + "\n").encode(), "", "at most 1048576 bytes", None),
    (
        "python_tag",
        (BASE + "x: !!python/object/apply:os.system ['touch pwned']\n").encode(),
        "",
        "malformed YAML",
        "x: !!python",
    ),
    ("two_documents", (BASE + "---\nname: other\n").encode(), "", "malformed YAML", "---"),
    ("undefined_alias", (BASE + "x: *nope\n").encode(), "", "malformed YAML", "x: *nope"),
    (
        "huge_layer",
        _edit("layers: [2, 4, 1]", "layers: [2, 1180591620717411303424, 1]").encode(),
        "network.layers",
        "simulation.max_cells",
        "layers:",
    ),
    (
        "wide_layer",
        _edit("layers: [2, 4, 1]", "layers: [2, 100000000, 1]").encode(),
        "network.layers",
        "simulation.max_cells",
        "layers:",
    ),
    (
        "many_layers",
        _edit("layers: [2, 4, 1]", "layers: [2" + ", 1" * 100 + "]").encode(),
        "network.layers",
        "at most 64 items",
        "layers:",
    ),
    (
        "long_value",
        _edit("g_min: 1u", "g_min: " + "9" * 90000 + "u").encode(),
        "device.g_min",
        "…",
        "g_min: 999",
    ),
]


@contextlib.contextmanager
def _deadline(seconds: float):
    """Fail (instead of hanging) if the block runs longer than ``seconds`` (SIGALRM, main thread)."""

    def alarm(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _where(data: bytes, line_text: str | None) -> str:
    if line_text is None:
        return "chip.yaml"
    text = data.decode("utf-8", "replace").replace("\ufffd", "")
    lineno = next(i for i, t in enumerate(text.split("\n"), 1) if line_text.replace("\xe9", "") in t)
    return f"chip.yaml:{lineno}:"


@pytest.mark.parametrize(
    ("data", "path", "fragment", "line"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE]
)
def test_hostile_file_is_refused_fast_with_file_line_and_path(tmp_path, data, path, fragment, line):
    spec = tmp_path / "chip.yaml"
    spec.write_bytes(data)
    t0 = time.perf_counter()
    with _deadline(10), pytest.raises(SpecError) as exc:
        load_spec(spec)
    elapsed = time.perf_counter() - t0
    message = str(exc.value).replace(str(tmp_path) + "/", "")
    assert elapsed < 2.0, f"took {elapsed:.2f} s"  # the bomb took > 15 s, the deep list a RecursionError
    assert f": {path}" in message, message
    assert fragment in message, message
    assert _where(data, line) in message, message
    assert len(message) < 1200, "a hostile value must not be echoed whole"


_SLOW = pytest.mark.slow  # each CLI call starts Python and imports numpy/pydantic (~2-5 s on a busy machine)


@pytest.mark.parametrize(
    "case",
    [
        "alias_bomb",
        "huge_layer",
        *(
            pytest.param(c, marks=_SLOW)
            for c in ("deep_list", "list_key", "int_5000_digits", "latin1", "empty")
        ),
    ],
)
def test_hostile_file_cli_exit_2_no_traceback_nothing_written(tmp_path, case):
    data = next(h[1] for h in HOSTILE if h[0] == case)
    (tmp_path / "chip.yaml").write_bytes(data)
    for cmd in (["validate", "chip.yaml"], ["build", "chip.yaml", "-o", "out"]):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "codegen", *cmd], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.startswith("error: chip.yaml"), proc.stderr
        assert time.perf_counter() - t0 < 60
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chip.yaml"], "nothing may be written"


def test_alias_bomb_counts_expansion_not_aliases():
    """A few honest aliases are fine; the limit is on the expanded size (MAX_NODES)."""
    honest = _edit(
        "  init: {distribution: uniform, low: 1u, high: 100u}", "  init: &i {distribution: uniform}"
    )
    honest += "x_unused: *i\n"
    with pytest.raises(SpecError, match="unknown key 'x_unused'"):  # got past the alias check
        load_spec_text(honest)
    wide = BASE + "x: [" + ", ".join(["1"] * (MAX_NODES + 10)) + "]\n"
    with pytest.raises(SpecError, match=f"more than {MAX_NODES} YAML nodes"):
        load_spec_text(wide)


def test_messages_name_the_path_of_a_nested_error():
    text = _edit(
        "  init: {distribution: uniform, low: 1u, high: 100u}", "  init: {distribution: [[[[" + "]" * 4 + "}"
    )
    deep = re.sub(r"\[\[\[\[\]\]\]\]", "[" * 70 + "]" * 70, text)
    with pytest.raises(SpecError) as exc:
        load_spec_text(deep, "c.yaml")
    line = next(i for i, t in enumerate(deep.splitlines(), 1) if "init:" in t)
    assert f"c.yaml:{line}: device.init.distribution.0.0.0" in str(exc.value)
    assert "more)" in str(exc.value)  # a deep path is shortened


def test_unreadable_paths(tmp_path):
    (tmp_path / "d.yaml").mkdir()
    for name, fragment in (
        ("d.yaml", "cannot read: IsADirectoryError"),
        ("x" * 300 + ".yaml", "cannot read"),
    ):
        with pytest.raises(SpecError, match=fragment):
            load_spec(tmp_path / name)
