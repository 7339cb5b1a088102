#!/usr/bin/env python3
"""One-way layering of the library (docs/architecture.md).

Usage: check_layering.py [SOURCE_ROOT]

Reads every #include "teleport/..." in lib/, groups/ and problems/ and checks that a header includes
only headers of its own layer or of the layers before it:

    core < expr < tensor < groups < engine < train < umbrellas < io < problems < suites

Prints one line per violation (and per header or include that belongs to no layer, so that a new
folder has to be placed) and exits with status 1 if there is any; otherwise prints a one-line
summary and exits with 0.
"""

import pathlib
import re
import sys

# (layer, its headers as included: folder prefixes or single files); list order = rank.
LAYERS = [
    ("core", ["teleport/core/"]),
    ("expr", ["teleport/expr/", "teleport/expression.hpp"]),
    ("tensor", ["teleport/tensor/"]),
    ("groups", ["teleport/groups/"]),
    ("engine", ["teleport/engine/"]),
    ("train", ["teleport/train/"]),
    ("umbrellas", ["teleport/teleport.hpp", "teleport/network_teleport.hpp"]),
    ("io", ["teleport/io/"]),
    ("problems", ["teleport/problems/"]),
    ("suites", ["teleport/suites/"]),
]
RANK = {name: rank for rank, (name, _) in enumerate(LAYERS)}
ORDER = " < ".join(name for name, _ in LAYERS)
INCLUDE_ROOTS = ["lib", "groups", "problems"]
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"](teleport/[^">]+)[">]')


def layer_of(include_path):
    """The layer of a header named as it is included ("teleport/engine/engine.hpp"), or None."""
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            if include_path == prefix or (prefix.endswith("/") and include_path.startswith(prefix)):
                return name
    return None


def main(argv):
    root = pathlib.Path(argv[1] if len(argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
    violations = []
    headers = 0
    includes = 0
    for include_root in INCLUDE_ROOTS:
        base = root / include_root
        for path in sorted(base.rglob("*")):
            if path.suffix not in (".hpp", ".h", ".cpp") or not path.is_file():
                continue
            headers += 1
            shown = path.relative_to(root).as_posix()
            own = layer_of(path.relative_to(base).as_posix())
            if own is None:
                violations.append(f"{shown}: belongs to no layer (place it in one of: {ORDER})")
                continue
            text = path.read_text(encoding="utf-8")
            for number, line in enumerate(text.splitlines(), start=1):
                match = INCLUDE.match(line)
                if not match:
                    continue
                includes += 1
                target = match.group(1)
                other = layer_of(target)
                if other is None:
                    violations.append(f"{shown}:{number}: includes {target}, which belongs to no layer ({ORDER})")
                elif not any((root / r / target).is_file() for r in INCLUDE_ROOTS):
                    violations.append(f"{shown}:{number}: includes {target}, which does not exist")
                elif RANK[other] > RANK[own]:
                    violations.append(f"{shown}:{number}: {own} includes {target} from the later layer {other} "
                                      f"(order: {ORDER})")
    for v in violations:
        print(v)
    if violations:
        print(f"layering: {len(violations)} violation(s)", file=sys.stderr)
        return 1
    if headers == 0:
        print(f"layering: no headers found under {root}", file=sys.stderr)
        return 1
    print(f"layering: {includes} includes in {headers} files follow {ORDER}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
