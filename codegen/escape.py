"""The one escaping and validation layer between chip.yaml strings and generated files.

Every string that reaches a generated file from outside the code (today the spec's ``name`` and
``description``, and the name of a ``--conductances`` file) goes through one of these functions,
registered as Jinja filters in :mod:`codegen.templating`.  JSON output needs none
(``json.dumps`` escapes).

Free text becomes the *body* of a single-line comment that the template has already opened
(``* `` in SPICE/Xyce, ``//`` in Spectre/Verilog/Verilog-A, ``#`` in Python):

* every whitespace character that can end or split a line (``\\n``, ``\\r``, ``\\r\\n``, ``\\t``,
  ``\\v``, ``\\f``, ``\\x1c``-``\\x1f``, U+0085, U+2028, U+2029 and the other Unicode spaces) and every
  run of them becomes one ASCII space, so the text cannot leave the comment line;
* every other character that is not printable (C0/C1 controls such as NUL or ESC, format characters
  such as the bidirectional overrides U+202A-U+202E, surrogates, private-use and unassigned code
  points) is written as the visible text ``\\uXXXX`` (``\\UXXXXXXXX`` above the BMP);
* a final backslash is written ``\\u005c`` so that no line ends in a continuation character;
* Verilog and Verilog-A comments are ASCII only (non-ASCII as ``\\uXXXX``), and a body that opens
  with a tool directive word (``synopsys``, ``verilator``, ``pragma`` …) gets ``> `` in front;
  Python comments break ``coding:`` (PEP 263); SPICE, Spectre and Python comments keep printable
  Unicode (``—``, ``µ``).  :func:`python_str` writes a Python string literal, :func:`python_doc`
  docstring text and :func:`markdown_code` a Markdown code span, all on one line.

Identifiers are validated, never rewritten: :func:`spice_ident`, :func:`verilog_ident` and
:func:`python_ident` return their argument if it matches ``[A-Za-z_][A-Za-z0-9_]*`` (at most
:data:`MAX_IDENTIFIER_CHARS` characters) and is not a keyword of that language, and raise
:class:`~codegen.errors.CodegenError` otherwise.  The spec itself already restricts ``name``
(:data:`NAME_PATTERN`, :data:`MAX_NAME_CHARS`), so a raise here means a code path forgot to.
"""

from __future__ import annotations

import keyword
import re
import unicodedata

from .errors import CodegenError

__all__ = [
    "IDENTIFIER_PATTERN",
    "NAME_PATTERN",
    "MAX_NAME_CHARS",
    "MAX_DESCRIPTION_CHARS",
    "MAX_IDENTIFIER_CHARS",
    "RESERVED_FILE_NAMES",
    "VERILOG_KEYWORDS",
    "SPICE_KEYWORDS",
    "PYTHON_KEYWORDS",
    "one_line",
    "spice_comment",
    "spectre_comment",
    "verilog_comment",
    "python_comment",
    "python_str",
    "python_doc",
    "markdown_code",
    "spice_ident",
    "verilog_ident",
    "python_ident",
    "FILTERS",
]

#: an identifier in every output language
IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
#: the chip name (spec ``name``): an identifier that starts with a letter
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
#: longest chip name (characters); generated names add at most ~40 (``test_<name>_<xbar>_pulse_ctrl.py``)
MAX_NAME_CHARS = 64
#: longest spec ``description`` (characters)
MAX_DESCRIPTION_CHARS = 2000
#: longest identifier the *_ident filters pass (characters; Verilog allows 1024, file names 255 bytes)
MAX_IDENTIFIER_CHARS = 200
#: names a chip may not have because they name devices, not files, on Windows (build/<name>/)
RESERVED_FILE_NAMES = frozenset(
    ["con", "prn", "aux", "nul"] + [f"com{i}" for i in range(10)] + [f"lpt{i}" for i in range(10)]
)

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CODING = re.compile(r"(coding)([:=])", re.IGNORECASE)
#: words that make a comment a tool directive when they open it (``// synopsys translate_off``,
#: ``// verilator lint_off``, ``// pragma …``)
_VERILOG_DIRECTIVE = re.compile(
    r"\s*(?:(?:synopsys|synthesis|pragma|verilator|coverage|cadence|ambit|xilinx|altera|yosys|icarus|"
    r"full_case|parallel_case)\b|lint_|translate_|tracing_|ivl_)",
    re.IGNORECASE,
)

#: reserved words of Verilog-2005 (IEEE 1364-2005 Annex B), SystemVerilog (1800-2017 Annex B) and
#: Verilog-AMS 2.4 (Annex B), so a generated name is legal for Icarus, Verilator, Yosys and openvaf-r
VERILOG_KEYWORDS = frozenset(
    """
    accept_on alias always always_comb always_ff always_latch and assert assign assume automatic before
    begin bind bins binsof bit break buf bufif0 bufif1 byte case casex casez cell chandle checker class
    clocking cmos config const constraint context continue cover covergroup coverpoint cross deassign
    default defparam design disable dist do edge else end endcase endchecker endclass endclocking
    endconfig endfunction endgenerate endgroup endinterface endmodule endpackage endprimitive
    endprogram endproperty endspecify endsequence endtable endtask enum event eventually expect export
    extends extern final first_match for force foreach forever fork forkjoin function generate genvar
    global highz0 highz1 if iff ifnone ignore_bins illegal_bins implements implies import incdir
    include initial inout input inside instance int integer interconnect interface intersect join
    join_any join_none large let liblist library local localparam logic longint macromodule matches
    medium modport module nand negedge nettype new nexttime nmos nor noshowcancelled not notif0 notif1
    null or output package packed parameter pmos posedge primitive priority program property
    protected pull0 pull1 pulldown pullup pulsestyle_ondetect pulsestyle_onevent pure rand randc
    randcase randsequence rcmos real realtime ref reg reject_on release repeat restrict return rnmos
    rpmos rtran rtranif0 rtranif1 s_always s_eventually s_nexttime s_until s_until_with scalared
    sequence shortint shortreal showcancelled signed small soft solve specify specparam static string
    strong strong0 strong1 struct super supply0 supply1 sync_accept_on sync_reject_on table tagged task
    this throughout time timeprecision timeunit tran tranif0 tranif1 tri tri0 tri1 triand trior trireg
    type typedef union unique unique0 unsigned until until_with untyped use uwire var vectored virtual
    void wait wait_order wand weak weak0 weak1 while wildcard wire with within wor xnor xor
    above abs absdelay absdelta abstol access acos acosh ac_stim aliasparam analog analysis asin asinh
    atan atan2 atanh branch ceil connect connectmodule connectrules continuous cos cosh ddt ddt_nature
    ddx discipline discrete domain driver_update endconnectrules enddiscipline endnature endparamset
    exclude exp final_step flicker_noise floor flow from ground hypot idt idtmod idt_nature inf
    initial_step laplace_nd laplace_np laplace_zd laplace_zp last_crossing limexp ln log max merged
    min nature net_resolution noise_table noise_table_log paramset potential pow resolveto sin sinh
    slew split sqrt tan tanh timer transition units white_noise wreal zi_nd zi_np zi_zd zi_zp
    """.split()
)

#: words a SPICE netlist reads specially as a bare name (compared case-insensitively): ground
#: aliases and the dot-less spellings of control words some dialects accept
SPICE_KEYWORDS = frozenset(
    """
    gnd ground end ends endc control subckt include lib param model options option global func
    temp op tran ac dc noise print plot save probe measure meas alter shell
    """.split()
)


#: Python keywords and soft keywords (``match``, ``case``, ``type``, ``_``)
PYTHON_KEYWORDS = frozenset([*keyword.kwlist, *keyword.softkwlist])


def _escape_char(ch: str) -> str:
    cp = ord(ch)
    return f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"


def _visible(ch: str, ascii_only: bool) -> bool:
    if ascii_only and ord(ch) > 0x7E:
        return False
    return ch.isprintable() and unicodedata.category(ch) not in ("Cf", "Co", "Cs", "Cn")


def one_line(text: object, *, ascii_only: bool = False) -> str:
    """``text`` as one line: whitespace runs → one space, non-printables → ``\\uXXXX``, no final ``\\``."""
    out: list[str] = []
    space = False
    for ch in str(text):
        if ch.isspace():
            space = True
            continue
        if space and out:
            out.append(" ")
        space = False
        out.append(ch if _visible(ch, ascii_only) else _escape_char(ch))
    if out and out[-1] == "\\":
        out[-1] = _escape_char("\\")
    return "".join(out)


def spice_comment(text: object) -> str:
    """Body of a ``* …`` comment line in an ngspice or Xyce netlist."""
    return one_line(text)


def spectre_comment(text: object) -> str:
    """Body of a ``// …`` comment line in a Spectre netlist."""
    return one_line(text)


def verilog_comment(text: object) -> str:
    """Body of a ``// …`` comment line in Verilog or Verilog-A (ASCII only).

    A body that opens with a tool's directive word (``synopsys``, ``verilator``, ``pragma`` …) gets
    ``> `` in front, so it cannot become a directive even where it starts the comment.
    """
    body = one_line(text, ascii_only=True)
    return "> " + body if _VERILOG_DIRECTIVE.match(body) else body


def python_comment(text: object) -> str:
    """Body of a ``# …`` comment line in Python.

    Also breaks ``coding:`` / ``coding=`` (written ``coding\\u003a``): on one of the first two lines
    of a file Python would read it as the source encoding (PEP 263).  For docstrings use
    :func:`python_doc`.
    """
    return _CODING.sub(lambda m: m.group(1) + _escape_char(m.group(2)), one_line(text))


def python_doc(text: object) -> str:
    """Text on one line of a ``\"\"\"…\"\"\"`` docstring: backslashes and double quotes escaped, so
    the docstring reads back as :func:`one_line` of ``text`` and cannot end early."""
    return one_line(text).replace("\\", "\\\\").replace('"', '\\"')


_PY_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def python_str(text: object) -> str:
    """A double-quoted Python string literal (ASCII only) that evaluates to ``text``."""
    out = ['"']
    for ch in str(text):
        if ch in _PY_ESCAPES:
            out.append(_PY_ESCAPES[ch])
        elif " " <= ch <= "~":
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(_escape_char(ch))
    out.append('"')
    return "".join(out)


def markdown_code(text: object) -> str:
    """``text`` as one Markdown code span on one line (fenced with more backticks than it holds)."""
    body = one_line(text)
    run = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * (run + 1)
    return f"{fence} {body} {fence}" if run else f"`{body}`"


def _ident(text: object, language: str, reserved: frozenset[str], fold: bool) -> str:
    s = str(text)
    if len(s) > MAX_IDENTIFIER_CHARS or _IDENT.fullmatch(s) is None:
        raise CodegenError(
            f"{s[:80]!r} cannot be a {language} name: it must be a letter or '_' followed by letters, "
            f"digits or '_', at most {MAX_IDENTIFIER_CHARS} characters"
        )
    if (s.lower() if fold else s) in reserved:
        raise CodegenError(f"{s!r} cannot be a {language} name: it is a reserved word of {language}")
    return s


def spice_ident(text: object) -> str:
    """``text`` if it is a legal, non-reserved name in ngspice/Spectre/Xyce netlists, else raise."""
    return _ident(text, "SPICE", SPICE_KEYWORDS, fold=True)


def verilog_ident(text: object) -> str:
    """``text`` if it is a legal, non-reserved Verilog / Verilog-A / SystemVerilog name, else raise."""
    return _ident(text, "Verilog", VERILOG_KEYWORDS, fold=False)


def python_ident(text: object) -> str:
    """``text`` if it is a legal Python name that is no keyword (nor soft keyword), else raise."""
    return _ident(text, "Python", PYTHON_KEYWORDS, fold=False)


#: the Jinja filters :mod:`codegen.templating` registers, by name
FILTERS = {
    "spice_comment": spice_comment,
    "xyce_comment": spice_comment,
    "spectre_comment": spectre_comment,
    "verilog_comment": verilog_comment,
    "python_comment": python_comment,
    "make_comment": python_comment,  # a Makefile comment: `#` to the end of the line, like Python's
    "python_str": python_str,
    "python_doc": python_doc,
    "markdown_code": markdown_code,
    "spice_ident": spice_ident,
    "verilog_ident": verilog_ident,
    "python_ident": python_ident,
}
