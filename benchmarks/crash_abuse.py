"""Crash-and-abuse check: kill -9 at random points, two writers at once, a killed --move, orphaned workers,
memory per hostile image, and slow clients. Prints counts (rows lost / duplicated / garbled, decisions missing,
orphans left, peak memory per case, connections closed); exits 1 when any guarantee of docs/reliability.md fails.

    PYTHONPATH=src python benchmarks/crash_abuse.py            # about 3-5 minutes on a busy 2-core machine
    PYTHONPATH=src python benchmarks/crash_abuse.py --quick    # fewer kill points, smaller images
    PYTHONPATH=src python benchmarks/crash_abuse.py --cases memory service

Linux only (reads /proc for memory and processes). Uses ``--model none`` (the measures), so it needs no weights.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

PYTHON = sys.executable
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(Path("src").resolve()), *sys.path])}
FAILURES: list[str] = []


def check(ok: bool, what: str) -> None:
    """Record a broken guarantee."""
    if not ok:
        FAILURES.append(what)


def cli(*args: str) -> list[str]:
    return [PYTHON, "-m", "pixgrade", *args]


def make_photos(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` small product-like photos (JPEG and PNG), some with awkward names."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    odd = [b"caf\xe9", b"new\nline", b"tab\there", b'quote"s']
    paths = []
    for i in range(n):
        img = np.full((160, 200, 3), 245, np.uint8)
        y, x = rng.integers(20, 80, 2)
        img[y : y + 70, x : x + 90] = rng.integers(20, 200, 3)
        ext = "png" if i % 2 else "jpg"
        name = odd[i % len(odd)] + f"-{i:03d}.{ext}".encode() if i % 7 == 0 else f"img{i:03d}.{ext}".encode()
        path = Path(os.fsdecode(os.path.join(os.fsencode(folder), name)))
        Image.fromarray(img).save(path, "PNG" if ext == "png" else "JPEG", quality=90)
        paths.append(path)
    return paths


def result_paths(out: Path) -> tuple[list[str], int]:
    """The decoded path of every row, and the number of rows that could not be read (garbled)."""
    from pixgrade.io.files import path_from_text
    from pixgrade.pipeline import read_rows

    paths, garbled = [], 0
    try:
        for row in read_rows(out):
            if not row.get("path") or (row.get("error") is None and row.get("score") is None):
                garbled += 1
            else:
                paths.append(os.path.abspath(path_from_text(row["path"])))
    except Exception:  # an unreadable file counts every row as garbled
        garbled += 1
    return paths, garbled


def count_rows(expected: list[Path], found: list[str]) -> tuple[int, int]:
    want = Counter(os.path.abspath(p) for p in expected)
    got = Counter(found)
    lost = sum((want - got).values())
    duplicated = sum(n - 1 for n in got.values() if n > 1) + sum((got - want).values())
    return lost, duplicated


def wait_for_rows(out: Path, proc: subprocess.Popen[bytes], at_least: int, timeout: float = 120) -> None:
    sidecar = out.with_name(out.name + ".partial.jsonl")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        target = sidecar if out.suffix == ".parquet" else out
        try:
            if target.exists() and target.read_bytes().count(b"\n") >= at_least:
                return
        except OSError:
            pass
        time.sleep(0.01)


def kill9_cases(root: Path, n_images: int, points: int) -> None:
    """Kill ``pixgrade score`` at random points, resume, and count rows lost, duplicated and garbled."""
    images = make_photos(root / "k9", n_images)
    print(f"\n== kill -9 during `pixgrade score`, then --resume ({n_images} images, {points} kills per format)")
    rng = random.Random(1)
    for fmt in ("csv", "jsonl", "parquet"):
        totals = Counter()
        for point in range(points):
            out = root / f"k9-{fmt}-{point}" / f"results.{fmt}"
            command = cli("score", str(root / "k9"), "-o", str(out), "--model", "none", "--workers", "0")
            command.append("--no-progress")
            proc = subprocess.Popen(command, env=ENV, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            wait_for_rows(out, proc, rng.randint(2, n_images - 5))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed = proc.returncode == -signal.SIGKILL
            subprocess.run([*command, "--resume"], env=ENV, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            found, garbled = result_paths(out)
            lost, duplicated = count_rows(images, found)
            totals.update(killed=killed, lost=lost, duplicated=duplicated, garbled=garbled)
        print(
            f"{fmt:8s} killed {totals['killed']}/{points}: rows lost {totals['lost']}, "
            f"duplicated {totals['duplicated']}, garbled {totals['garbled']}"
        )
        check(totals["lost"] == totals["duplicated"] == totals["garbled"] == 0, f"kill -9 {fmt}")


def two_writer_cases(root: Path, n_images: int) -> None:
    """Two runs on one results file, and two filters on one output folder, started together."""
    images = make_photos(root / "two", n_images, seed=2)
    print(f"\n== two writers at once ({n_images} images)")
    out = root / "two-out" / "results.csv"
    command = cli("score", str(root / "two"), "-o", str(out), "--resume", "--model", "none", "--workers", "0")
    command.append("--no-progress")
    procs = [subprocess.Popen(command, env=ENV, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL) for _ in range(2)]
    codes = [p.wait() for p in procs]
    found, garbled = result_paths(out)
    lost, duplicated = count_rows(images, found)
    print(
        f"score --resume x2: exit codes {sorted(codes)}; rows lost {lost}, duplicated {duplicated}, garbled {garbled}"
    )
    # [0, 2] when the runs overlapped; [0, 0] when the second started after the first had finished (it then
    # finds every image done): both are correct, a duplicated or garbled row never is.
    check(set(codes) <= {0, 2} and lost == duplicated == garbled == 0, "two score writers")
    outdir = root / "two-filter"
    command = cli("filter", str(root / "two"), "-o", str(outdir), "--model", "none", "--workers", "0")
    procs = [subprocess.Popen(command, env=ENV, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL) for _ in range(2)]
    codes = [p.wait() for p in procs]
    placed = Counter()
    for folder in ("accepted", "rejected", "duplicates"):
        placed.update(p.name for p in (outdir / folder).rglob("*") if p.is_file())
    in_two = sum(1 for n in placed.values() if n > 1)
    print(f"filter x2 on one folder: exit codes {sorted(codes)}; files in two decision folders {in_two}")
    check(set(codes) <= {0, 2} and in_two == 0, "two filter writers")


def move_case(root: Path, n_images: int) -> None:
    """Kill `filter --move` half-way; the rerun must decide for every original image."""
    source = root / "move-src"
    for product in range(4):
        make_photos(source / f"SKU{product}", n_images // 4, seed=10 + product)
    originals = sorted(p for p in source.rglob("*") if p.is_file())
    outdir = root / "move-out"
    command = cli("filter", str(source), "-o", str(outdir), "--move", "--model", "none", "--workers", "0")
    proc = subprocess.Popen(command, env=ENV, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        moved = sum(1 for p in originals if not os.path.lexists(p))
        if moved >= len(originals) // 3:
            break
        time.sleep(0.005)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = sum(1 for p in originals if os.path.lexists(p))
    subprocess.run(command, env=ENV, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    from pixgrade.io.files import path_from_text

    with (outdir / "decisions.csv").open(encoding="utf-8", newline="") as fh:
        decided = {os.path.abspath(path_from_text(r["path"])) for r in csv.DictReader(fh)}
    missing = sum(1 for p in originals if os.path.abspath(p) not in decided)
    parts = len(list(outdir.rglob("*.pixgrade-part")))
    print(
        f"\n== filter --move killed with {len(originals) - left}/{len(originals)} moved, then rerun: "
        f"decisions missing {missing} of {len(originals)}, part files left {parts}"
    )
    check(missing == 0 and parts == 0, "filter --move rerun")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[-1].split()[1]) == pid:
                        out.append(int(entry))
            except OSError:
                continue
    return out


def orphan_case(root: Path, n_images: int) -> None:
    """SIGKILL only the main process of a multi-worker run (what the OOM killer does)."""
    make_photos(root / "orphans", n_images, seed=3)
    command = cli("score", str(root / "orphans"), "-o", str(root / "orphans.csv"), "--model", "none")
    command += ["--workers", "2", "--no-progress"]
    proc = subprocess.Popen(command, env=ENV, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    children: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(children) < 3 and proc.poll() is None:
        children = _children(proc.pid)
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(3.0)
    left = [p for p in children if _alive(p)]
    print(f"\n== kill -9 of the main process only: {len(children)} child processes, {len(left)} alive after 3 s")
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    check(not left, "orphaned workers")


def _peak_mib(command: list[str]) -> tuple[float, str]:
    """Run ``command`` under a wrapper that reports its peak RSS (itself and its children), in MiB."""
    code = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n"
        "print(r.stdout[-2000:] + r.stderr[-2000:])\n"
    )
    result = subprocess.run([PYTHON, "-c", code, *command], env=ENV, capture_output=True, text=True)
    first, _, rest = result.stdout.partition("\n")
    return float(first), rest


def memory_cases(root: Path, quick: bool) -> None:
    """Peak memory of `pixgrade score` on hostile images, against the default budget (1024 MiB)."""
    side = 6000 if quick else 9999
    folder = root / "mem"
    folder.mkdir()
    wide = np.zeros((side, side), np.uint16)
    wide[::97] = 50000
    Image.fromarray(wide).save(folder / "deep16.png", optimize=True)
    data = bytearray(Image.fromarray(np.zeros((64, 64, 3), np.uint8)).tobytes())
    buffer = io.BytesIO()
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (9000).to_bytes(2, "big") * 2
    sos = data.find(b"\xff\xda")
    start = sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")
    (folder / "faked.jpg").write_bytes(bytes(data[: start + 10]) + b"\xff\xd9")
    rgb16 = np.zeros((side, side, 3), np.uint16)
    import cv2

    cv2.imwrite(str(folder / "deep16rgb.png"), rgb16)
    print("\n== memory per image (`pixgrade score FILE --model none --workers 0`; default budget 1024 MiB)")
    for name in ("deep16.png", "deep16rgb.png", "faked.jpg"):
        size = (folder / name).stat().st_size
        peak, text = _peak_mib(cli("score", str(folder / name), "--model", "none", "--workers", "0", "--no-progress"))
        verdict = "refused: " + text.split("error: ", 1)[1].split("\n")[0][:110] if "error: " in text else "scored"
        print(f"{name:14s} {size / 1024:8.0f} KiB  peak {peak:7.0f} MiB  {verdict}")
        check(peak < 1024 + 300, f"memory {name}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _vm_hwm(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _start_server(port: int, *options: str) -> subprocess.Popen[bytes]:
    command = cli("serve", "--model", "none", "--port", str(port), "--log-level", "error", *options)
    server = subprocess.Popen(command, env=ENV, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    return server


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGINT)
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()


def _upload(port: int, size: int, result: list[tuple[str, float]]) -> None:
    """POST one multipart body of ``size`` bytes; record the status and the MiB sent before the answer."""
    boundary = b"pixgradeXboundary"
    head = b"--" + boundary + b'\r\nContent-Disposition: form-data; name="files"; filename="big.bin"\r\n\r\n'
    tail = b"\r\n--" + boundary + b"--\r\n"
    conn = socket.create_connection(("127.0.0.1", port))
    conn.sendall(
        b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary="
        + boundary
        + f"\r\nContent-Length: {len(head) + size + len(tail)}\r\n\r\n".encode()
        + head
    )
    chunk = b"\0" * (1024 * 1024)
    sent, answer = 0, b""
    conn.setblocking(False)
    try:
        while sent < size:
            try:
                answer = conn.recv(200)
                break  # answered (or closed) before the body was sent
            except BlockingIOError:
                pass
            try:
                sent += conn.send(chunk[: size - sent])  # all zeros: any prefix is the next part of the body
            except BlockingIOError:
                time.sleep(0.001)
        conn.setblocking(True)
        conn.settimeout(120)
        if not answer:
            conn.sendall(tail)
            answer = conn.recv(200)
    except OSError:
        pass
    finally:
        conn.close()
    result.append((answer[9:12].decode() or "closed", sent / 1024 / 1024))


def service_cases(root: Path, quick: bool) -> None:
    """Slow clients and large concurrent uploads against `pixgrade serve --model none`."""
    import threading

    port = _free_port()
    server = _start_server(port, "--request-timeout", "3", "--keep-alive-timeout", "2")
    try:
        n = 100 if quick else 400
        conns = []
        for i in range(n):
            conn = socket.create_connection(("127.0.0.1", port))
            conn.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n" if i % 2 else b"POST /v1/score HTTP/1.1\r\n")
            conns.append(conn)
        time.sleep(8)
        closed = 0
        for conn in conns:
            conn.setblocking(False)
            try:
                closed += conn.recv(1) == b""
            except BlockingIOError:
                pass
            except ConnectionResetError:
                closed += 1
            conn.close()
        print(
            f"\n== service: {n} connections that never finish their request (--request-timeout 3): "
            f"{closed} closed after 8 s"
        )
        check(closed == n, "slow clients")
    finally:
        _stop(server)

    port = _free_port()
    server = _start_server(port, "--max-upload-mb", "80", "--max-inflight-mb", "200")
    try:
        result: list[tuple[str, float]] = []
        threads = [threading.Thread(target=_upload, args=(port, 64 * 1024 * 1024, result)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        peak = _vm_hwm(server.pid)
        statuses = Counter(status for status, _ in result)
        early = [round(sent) for status, sent in result if status == "503"]
        print(
            f"8 uploads of 64 MiB at once (--max-inflight-mb 200): statuses {dict(statuses)} (4xx: admitted, read "
            f"and answered; 503: refused before the body); MiB sent before a 503 {early}; server peak {peak:.0f} MiB"
        )
        check(peak < 200 * 3 + 400 and statuses.get("503", 0) >= 4, "service memory")
    finally:
        _stop(server)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer kill points and smaller images")
    cases = ("kill9", "writers", "move", "orphans", "memory", "service")
    parser.add_argument("--cases", nargs="+", choices=cases, default=list(cases), help="which checks (default all)")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pixgrade-abuse-") as tmp:
        root = Path(tmp)
        if "kill9" in args.cases:
            kill9_cases(root, 40 if args.quick else 60, 2 if args.quick else 4)
        if "writers" in args.cases:
            two_writer_cases(root, 30)
        if "move" in args.cases:
            move_case(root, 40)
        if "orphans" in args.cases:
            orphan_case(root, 40)
        if "memory" in args.cases:
            memory_cases(root, args.quick)
        if "service" in args.cases:
            service_cases(root, args.quick)
    print(f"\n{len(FAILURES)} guarantee(s) broken{': ' + ', '.join(FAILURES) if FAILURES else ''}")
    print(f"took {time.monotonic() - started:.0f} s")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
