"""Build pixgrade's sdist and wheel, install the wheel into a fresh virtual environment and use it as a user would.

No Makefile, no editable install, no PyTorch: ``pip install dist/pixgrade-*.whl[serve]`` into a new venv, then,
from a folder outside the repository (so the installed package runs, not ``src/``):

1. PyTorch is not installed (the core install must not pull it in);
2. the PP-OCRv4 text detector is the one available (its model ships inside the wheel);
3. ``pixgrade score examples`` gives the same rows (path, score, grade, reasons, error) as the development
   environment running ``make demo``'s command, and ``pixgrade filter examples`` the same decisions and reasons;
4. ``pixgrade serve`` answers ``POST /v1/score`` with the same score as ``pixgrade score``.

The wheel is built from the sdist (``python -m build``), so a file missing from the sdist fails here too.

Usage: ``python tools/check_wheel_install.py [--work build/wheel-check] [--keep] [--python PATH]``; exit 0 when
everything matches, 1 with a message per difference. ``--python`` makes the fresh venv with another interpreter
(e.g. a Python 3.13), so the wheel's dependencies are resolved and run on that version; the wheel is still built
and the reference results still come from the running (development) environment. Without it the venv's Python is
the running one's base interpreter. Needs ``build`` (the ``test`` extra) and access to the package index the
venv's pip uses (or its cache).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCORE_COLUMNS = ("score", "grade", "reasons", "error")
DECISION_COLUMNS = ("decision", "main", "duplicate_of", "reasons", "error")


CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
"""Environment of the fresh venv's commands: nothing that would put the repository's sources on the path."""


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run(cmd, check=True, text=True, **kwargs)  # type: ignore[call-overload]


def build(dist: Path) -> tuple[Path, Path]:
    """sdist and wheel (the wheel built from the sdist) of the repository into ``dist``."""
    shutil.rmtree(dist, ignore_errors=True)
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], stdout=subprocess.DEVNULL)
    wheels, sdists = sorted(dist.glob("pixgrade-*.whl")), sorted(dist.glob("pixgrade-*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        raise SystemExit(f"expected one wheel and one sdist in {dist}, found {wheels + sdists}")
    return wheels[0], sdists[0]


def interpreter_version(python: str) -> str:
    """``X.Y.Z`` of the interpreter at ``python``; exits naming the path and the cause when it cannot run."""
    try:
        answer = subprocess.run(
            [python, "-c", "import platform; print(platform.python_version())"],
            check=True,
            capture_output=True,
            text=True,
            env=CLEAN_ENV,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = exc.stderr.strip() if isinstance(exc, subprocess.CalledProcessError) else exc
        raise SystemExit(f"--python {python}: cannot run this interpreter: {detail}") from None
    return answer.stdout.strip()


def fresh_venv(venv: Path, wheel: Path, python: str | None = None) -> Path:
    """A new venv with ``wheel[serve]`` installed by pip from the index; returns its ``bin`` folder.

    The venv is made by ``python`` (an interpreter's path), by default the running interpreter's base one.
    """
    shutil.rmtree(venv, ignore_errors=True)
    base: str = python if python is not None else getattr(sys, "_base_executable", sys.executable)
    _run([base, "-m", "venv", str(venv)], env=CLEAN_ENV)
    bin_dir = venv / "bin"
    _run([str(bin_dir / "pip"), "install", "--quiet", f"{wheel}[serve]"], env=CLEAN_ENV)
    return bin_dir


def _rows(path: Path, key: str, columns: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {row[key]: tuple(row[c] for c in columns) for row in csv.DictReader(handle)}


def _same(a: str, b: str) -> bool:
    """Equal cells; numbers within 1e-3 (ONNX Runtime builds may differ in the last digits)."""
    try:
        return abs(float(a) - float(b)) <= 1e-3
    except ValueError:
        return a == b


def _differences(name: str, reference: dict[str, tuple[str, ...]], got: dict[str, tuple[str, ...]]) -> list[str]:
    problems = []
    if set(reference) != set(got):
        problems.append(f"{name}: different files: {sorted(set(reference) ^ set(got))}")
    for key in sorted(set(reference) & set(got)):
        if not all(_same(a, b) for a, b in zip(reference[key], got[key], strict=True)):
            problems.append(f"{name}: {key}: development env {reference[key]} != wheel install {got[key]}")
    return problems


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post_image(url: str, image: Path) -> dict[str, object]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{image.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + image.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


def serve_score(bin_dir: Path, cwd: Path, image: Path) -> float:
    """Start ``pixgrade serve`` from the venv, score ``image`` over HTTP, stop it; returns the score."""
    port = _free_port()
    server = subprocess.Popen(
        [str(bin_dir / "pixgrade"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=CLEAN_ENV,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"pixgrade serve did not come up: {server.stderr.read() if server.stderr else ''}")
            time.sleep(0.5)
        result = _post_image(f"http://127.0.0.1:{port}/v1/score", image)
        first = result["results"][0]  # type: ignore[index]
        return float(first["score"])
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "wheel-check")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (venv, outputs)")
    parser.add_argument(
        "--python",
        metavar="PATH",
        help="interpreter that makes the fresh venv (default: the running one's base interpreter)",
    )
    args = parser.parse_args(argv)
    work: Path = args.work.resolve()
    version = interpreter_version(args.python) if args.python is not None else None
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    wheel, sdist = build(work / "dist")
    print(f"built {wheel.name} ({wheel.stat().st_size / 1e6:.1f} MB) and {sdist.name}")
    installing = time.monotonic()
    bin_dir = fresh_venv(work / "venv", wheel, args.python)
    install_s = time.monotonic() - installing
    python = str(bin_dir / "python")
    outside = work / "run"
    shutil.rmtree(outside, ignore_errors=True)
    outside.mkdir()
    problems: list[str] = []

    probe = subprocess.run(
        [
            python,
            "-c",
            "import importlib.util, pixgrade.facts.text as t; "
            "print(importlib.util.find_spec('torch') is None, t.available_text_detectors()[0], t.__file__)",
        ],
        cwd=outside,
        check=True,
        capture_output=True,
        text=True,
        env=CLEAN_ENV,
    ).stdout.split()
    no_torch, detector, location = probe[0] == "True", probe[1], probe[2]
    if not no_torch:
        problems.append("the wheel install pulled in PyTorch")
    if detector != "db":
        problems.append(f"the wheel install's text detector is {detector!r}, not the PP-OCRv4 'db' detector")
    if not location.startswith(str(work / "venv")):
        problems.append(f"pixgrade ran from {location}, not from the fresh venv")
    if version is not None and (got := interpreter_version(python)) != version:
        problems.append(f"the fresh venv runs Python {got}, not {version} of --python {args.python}")

    # the development environment (the one running this script), as `make demo` runs it
    dev = [sys.executable, "-m", "pixgrade"]
    wheel_cli = [str(bin_dir / "pixgrade")]
    for label, cli, env in (("dev", dev, dict(os.environ)), ("wheel", wheel_cli, CLEAN_ENV)):
        _run([*cli, "score", str(EXAMPLES), "-o", str(outside / f"{label}-scores.csv")], cwd=outside, env=env)
        _run([*cli, "filter", str(EXAMPLES), "-o", str(outside / f"{label}-filter")], cwd=outside, env=env)
    problems += _differences(
        "score",
        _rows(outside / "dev-scores.csv", "path", SCORE_COLUMNS),
        _rows(outside / "wheel-scores.csv", "path", SCORE_COLUMNS),
    )
    problems += _differences(
        "filter",
        _rows(outside / "dev-filter" / "decisions.csv", "path", DECISION_COLUMNS),
        _rows(outside / "wheel-filter" / "decisions.csv", "path", DECISION_COLUMNS),
    )
    reference = _rows(outside / "wheel-scores.csv", "path", SCORE_COLUMNS)
    image = EXAMPLES / "mug_good.jpg"
    served = serve_score(bin_dir, outside, image)
    expected = float(reference[str(image)][0])
    if abs(served - expected) > 1e-3:
        problems.append(f"serve: {image.name} scored {served:.4f} over HTTP, {expected:.4f} by pixgrade score")

    for line in problems:
        print(f"wheel check: {line}", file=sys.stderr)
    if not args.keep:
        shutil.rmtree(work / "venv", ignore_errors=True)
        shutil.rmtree(outside, ignore_errors=True)
    verdict = "FAILED" if problems else "passed"
    print(
        f"wheel check {verdict} in {time.monotonic() - started:.0f} s: fresh venv without torch, detector {detector}, "
        f"score/filter on {len(reference)} examples as in the development environment, serve score {served:.3f}"
    )
    if version is not None:
        print(f"wheel check venv: Python {version} ({args.python}), venv + pip install {install_s:.0f} s")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
