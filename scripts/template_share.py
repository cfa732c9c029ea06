"""Duplicate-template share between the netlist dialects: how many of a dialect's template lines
stand, to the letter, in another dialect's templates.

For each dialect folder ``templates/<d>/`` (``*.j2``): its non-blank lines (stripped of leading and
trailing blanks) and the fraction of them that also occur in some other dialect's folder.  Thin
lines (``{% endfor %}``, ``{% endif %}`` …) count too: the measure is strict.  ``--content``
leaves out the lines that are only a closing or ``else`` tag (``{% endblock %}``, ``{%- endif -%}``
…), which every template that overrides a block or closes a loop repeats.

    python scripts/template_share.py [--templates DIR] [--dialects spice,xyce,spectre,vacask] [--content] [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIALECTS = ("spice", "xyce", "spectre", "vacask")


#: words of the tags that only close a block or switch branches
THIN = ("endblock", "endif", "endfor", "endmacro", "else")


def thin(line: str) -> bool:
    """A line that is only a closing or ``else`` Jinja tag."""
    body = line.strip().removeprefix("{%").removesuffix("%}").strip("- ")
    return line.strip().startswith("{%") and line.strip().endswith("%}") and body in THIN


def template_lines(folder: Path, content: bool = False) -> list[str]:
    """Non-blank, stripped lines of every ``*.j2`` file in ``folder`` (``content``: without thin tags)."""
    out: list[str] = []
    for f in sorted(folder.glob("*.j2")):
        out += [ln.strip() for ln in f.read_text().splitlines() if ln.strip() and not (content and thin(ln))]
    return out


def template_share(
    templates: Path = ROOT / "templates", dialects: tuple[str, ...] = DIALECTS, content: bool = False
) -> dict:
    """``{"dialects": {d: {"lines", "shared", "share"}}, "lines", "shared", "share"}``: per dialect
    and overall, the lines of its templates that also stand in another dialect's."""
    lines = {d: template_lines(templates / d, content) for d in dialects if (templates / d).is_dir()}
    sets = {d: set(v) for d, v in lines.items()}
    per: dict[str, dict[str, float]] = {}
    for d, ls in lines.items():
        others = set().union(*(s for k, s in sets.items() if k != d))
        shared = sum(1 for ln in ls if ln in others)
        per[d] = {"lines": len(ls), "shared": shared, "share": shared / len(ls) if ls else 0.0}
    total = sum(int(v["lines"]) for v in per.values())
    shared = sum(int(v["shared"]) for v in per.values())
    return {"dialects": per, "lines": total, "shared": shared, "share": shared / total if total else 0.0}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--templates", default=str(ROOT / "templates"))
    p.add_argument("--dialects", default=",".join(DIALECTS))
    p.add_argument("--content", action="store_true", help="leave out closing/else tags")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    a = p.parse_args(argv)
    r = template_share(Path(a.templates), tuple(a.dialects.split(",")), a.content)
    if a.json:
        print(json.dumps(r, indent=1))
    else:
        for d, v in r["dialects"].items():
            print(
                f"{d:8s} {v['shared']:4d} of {v['lines']:4d} lines also in another dialect ({v['share']:.0%})"
            )
        print(f"all      {r['shared']:4d} of {r['lines']:4d} lines ({r['share']:.0%})")
    return r


if __name__ == "__main__":
    main()
