"""Load test of ``pixgrade serve`` on loopback: N concurrent clients for T seconds.

Starts ``pixgrade serve`` in a subprocess on a free 127.0.0.1 port (or targets ``--url``, which must be a
loopback address), then runs ``--clients`` concurrent clients, each posting one generated JPEG after another for
``--duration`` seconds (at most 300). Prints throughput, p50/p95/p99 latency, errors by status, and the server's
mean model batch size (from /metrics).

Examples::

    python benchmarks/load.py --model random --clients 8 --duration 20
    python benchmarks/load.py --model default --clients 16 --duration 30 --heatmap
    python benchmarks/load.py --url http://127.0.0.1:8000 --clients 4 --duration 10

``--model random`` saves a random-weights QualityNet checkpoint to a temporary folder and serves it: the speed is
the same as the trained model's (same architecture and input sizes), the scores are meaningless.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import ipaddress
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import httpx
import numpy as np
from PIL import Image

MAX_DURATION = 300.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _check_loopback(url: str) -> None:
    host = urlparse(url).hostname or ""
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise SystemExit(f"load.py only targets loopback addresses (127.0.0.1, ::1, localhost), not {host!r}")


def make_jpeg(width: int, height: int, seed: int) -> bytes:
    """A textured product-like JPEG (white backdrop, shaded object, fine detail)."""
    rng = np.random.default_rng(seed)
    rgb = np.full((height, width, 3), 250, np.float32)
    y0, y1, x0, x1 = height // 6, 5 * height // 6, width // 5, 4 * width // 5
    colour = rng.uniform(40, 200, size=3).astype(np.float32)
    shade = np.linspace(1.15, 0.75, x1 - x0, dtype=np.float32)[None, :, None]
    rgb[y0:y1, x0:x1] = colour * shade + rng.normal(0, 12, size=(y1 - y0, x1 - x0, 3))
    buf = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


async def _client(
    client: httpx.AsyncClient,
    images: list[bytes],
    stop_at: float,
    heatmap: bool,
    seed: int,
    latencies: list[float],
    statuses: Counter[str],
) -> None:
    i = seed
    url = "/v1/score?heatmap=true" if heatmap else "/v1/score"
    while time.perf_counter() < stop_at:
        data = images[i % len(images)]
        i += 1
        start = time.perf_counter()
        try:
            r = await client.post(url, files={"files": (f"img{i}.jpg", data, "image/jpeg")})
            status = str(r.status_code)
            if r.status_code == 503:
                await asyncio.sleep(min(1.0, float(r.headers.get("Retry-After", "1"))))
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        if status == "200":
            latencies.append(time.perf_counter() - start)
        statuses[status] += 1


async def _run(url: str, clients: int, duration: float, heatmap: bool, images: list[bytes]) -> dict[str, object]:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        await client.post("/v1/score", files={"files": ("warm.jpg", images[0], "image/jpeg")})  # warm-up
        start = time.perf_counter()
        stop_at = start + duration
        await asyncio.gather(
            *(_client(client, images, stop_at, heatmap, k, latencies, statuses) for k in range(clients))
        )
        elapsed = time.perf_counter() - start
        metrics = (await client.get("/metrics")).text
        health = (await client.get("/v1/health")).json()
    batch_sum = re.search(r"^pixgrade_model_batch_size_sum (\S+)$", metrics, re.M)
    batch_count = re.search(r"^pixgrade_model_batch_size_count (\S+)$", metrics, re.M)
    mean_batch = (
        float(batch_sum.group(1)) / float(batch_count.group(1))
        if batch_sum and batch_count and float(batch_count.group(1))
        else float("nan")
    )
    return {
        "latencies": latencies,
        "statuses": statuses,
        "elapsed": elapsed,
        "mean_batch": mean_batch,
        "backend": health.get("backend", "?"),
    }


def _start_server(args: argparse.Namespace, tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    model = args.model
    if model == "random":
        import torch

        from pixgrade.model import create_model
        from pixgrade.model.checkpoint import save_checkpoint

        torch.manual_seed(0)
        model = str(
            save_checkpoint(tmp / "random.safetensors", create_model(pretrained_backbone=False), {"note": "random"})
        )
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "pixgrade",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--model",
        model,
        "--backend",
        args.backend,
        "--max-batch",
        str(args.max_batch),
        "--max-wait-ms",
        str(args.max_wait_ms),
        "--max-queue",
        str(args.max_queue),
        "--threads",
        str(args.threads),
        "--torch-threads",
        str(args.torch_threads),
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise SystemExit(f"the server exited with {proc.returncode}:\n{err}")
        try:
            if httpx.get(url + "/v1/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the server did not become healthy within 120 s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="target a running server (loopback only) instead of starting one")
    parser.add_argument("--model", default="random", help="for the started server: default, random, none or a path")
    parser.add_argument(
        "--backend", default="auto", choices=("auto", "int8", "onnx", "fp32", "torch"), help="for the started server"
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=15.0, help=f"seconds of load (at most {MAX_DURATION:.0f})")
    parser.add_argument("--size", default="800x600", help="WIDTHxHEIGHT of the uploaded JPEGs (default 800x600)")
    parser.add_argument("--heatmap", action="store_true", help="ask for heatmaps (POST /v1/score?heatmap=true)")
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--max-wait-ms", type=float, default=10.0)
    parser.add_argument("--max-queue", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="server decode threads")
    parser.add_argument("--torch-threads", type=int, default=1, help="server model threads (0: PyTorch default)")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= MAX_DURATION:
        parser.error(f"--duration must be in (0, {MAX_DURATION:.0f}]")
    if args.clients < 1:
        parser.error("--clients must be >= 1")
    width, height = (int(v) for v in args.size.lower().split("x"))
    images = [make_jpeg(width, height, seed) for seed in range(8)]

    proc = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.url:
            _check_loopback(args.url)
            url = args.url.rstrip("/")
        else:
            proc, url = _start_server(args, Path(tmp))
        try:
            result = asyncio.run(_run(url, args.clients, args.duration, args.heatmap, images))
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(30)
    latencies: list[float] = result["latencies"]  # type: ignore[assignment]
    statuses: Counter[str] = result["statuses"]  # type: ignore[assignment]
    elapsed = float(result["elapsed"])  # type: ignore[arg-type]
    ok = statuses.get("200", 0)
    errors = {k: v for k, v in sorted(statuses.items()) if k != "200"}
    load = os.getloadavg()[0]
    print(
        f"machine: {os.cpu_count()} CPU cores, load average {load:.1f} at the end; "
        f"server: {args.model if not args.url else args.url} ({result['backend']} backend)"
    )
    print(
        f"clients={args.clients} duration={elapsed:.1f}s image={width}x{height} JPEG heatmap={args.heatmap} "
        f"max_batch={args.max_batch} max_wait_ms={args.max_wait_ms:g} torch_threads={args.torch_threads}"
    )
    print(f"requests ok: {ok}  throughput: {ok / elapsed:.2f} images/s")
    print(
        f"latency (ok requests): p50 {_percentile(latencies, 50) * 1000:.0f} ms  "
        f"p95 {_percentile(latencies, 95) * 1000:.0f} ms  p99 {_percentile(latencies, 99) * 1000:.0f} ms"
    )
    print(f"errors: {errors if errors else 0}")
    print(f"mean model batch size: {float(result['mean_batch']):.2f}")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
