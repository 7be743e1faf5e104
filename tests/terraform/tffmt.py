"""The part of `terraform fmt` a reviewer sees first, for a machine without the binary: `=` alignment.

As hclwrite does it: consecutive lines whose assignment is a whole one-line expression form a chain,
and their `=` go one column after the chain's longest lead (indentation and name); a line that opens a
multi-line value (net open brackets, or a heredoc) has one space before its `=` and ends the chain.
Run `python -m tests.terraform.tffmt terraform/*.tf terraform/envs/*.tfvars` to rewrite files.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ASSIGN = re.compile(r'^(\s*)([A-Za-z_][A-Za-z0-9_\-]*|"[^"]*")(\s*)=(?![=>])(.*)$')


def net_brackets(text: str) -> int:
    """Open minus closed brackets outside strings and comments."""
    depth, quoted, i = 0, False, 0
    while i < len(text):
        char = text[i]
        if quoted:
            if char == "\\":
                i += 2
                continue
            if char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "#":
            break
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        i += 1
    return depth


def fmt(text: str) -> str:
    """`text` with its `=` aligned."""
    lines = text.split("\n")
    out = list(lines)
    chain: list[tuple[int, re.Match[str]]] = []

    def close() -> None:
        if chain:
            width = max(len(m.group(1)) + len(m.group(2)) for _, m in chain)
            for n, m in chain:
                pad = " " * (width - len(m.group(1)) - len(m.group(2)) + 1)
                out[n] = f"{m.group(1)}{m.group(2)}{pad}={m.group(4)}"
        chain.clear()

    for n, line in enumerate(lines):
        match = ASSIGN.match(line)
        if match and "<<" not in match.group(4) and net_brackets(match.group(4)) == 0:
            chain.append((n, match))
            continue
        close()
        if match:
            out[n] = f"{match.group(1)}{match.group(2)} ={match.group(4)}"
    close()
    return "\n".join(out)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        path = Path(name)
        if fmt(path.read_text()) != path.read_text():
            path.write_text(fmt(path.read_text()))
            print("formatted", name)
