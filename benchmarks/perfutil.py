"""Shared helpers of the performance benchmarks (throughput.py, memory_flat.py, ray_vs_local.py, int8_accuracy.py):
the data folder, a description of the machine, test-image folders, a model to time, and RSS sampling."""

from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def data_dir() -> Path:
    """``$PIXGRADE_DATA`` or ``<repo>/../shared/data``."""
    root = os.environ.get("PIXGRADE_DATA") or str(Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    return Path(root).resolve()


def machine() -> str:
    """CPU model, usable cores and load average (the benchmarks share a 2-core machine)."""
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    return f"{cpu}, {cores} usable cores, load average {load}, Python {platform.python_version()}"


def benchmark_checkpoint(folder: Path) -> tuple[Path, str]:
    """The trained default model when installed, else an ImageNet-backbone model with random heads saved to
    ``folder`` (same computation, so the same speed). Returns ``(path, description)``."""
    from pixgrade.model.predictor import DEFAULT_MODEL_PATH

    if DEFAULT_MODEL_PATH.is_file():
        return DEFAULT_MODEL_PATH, "trained default model"
    import torch

    from pixgrade.model import create_model
    from pixgrade.model.checkpoint import save_checkpoint

    torch.manual_seed(0)
    net = create_model(pretrained_backbone=True)
    path = save_checkpoint(folder / "imagenet_random_heads.safetensors", net, {"note": "benchmark stand-in"})
    return path, "ImageNet MobileNetV2 backbone with random heads (trained weights not installed; speed is the same)"


def make_large_jpegs(folder: Path, n: int, size: tuple[int, int] = (1600, 1000), quality: int = 90) -> list[Path]:
    """``n`` JPEGs of ``size`` (width, height; 1.6 MP by default) made from products-fashion photos: the product
    is upscaled (bicubic) onto a white canvas with a mild gradient, as studio shots are. Falls back to synthetic
    pictures when the data folder is missing."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted((data_dir() / "products-fashion" / "images").glob("*.jpg"))
    width, height = size
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        canvas = np.full((height, width, 3), 246, np.uint8)
        canvas[:] = (246 - 8 * np.linspace(0, 1, height))[:, None, None].astype(np.uint8)
        target = int(height * 0.9)
        if sources:
            with Image.open(sources[i % len(sources)]) as src:
                product = np.asarray(src.convert("RGB").resize((target, target), Image.Resampling.BICUBIC))
        else:
            product = rng.integers(0, 255, (target, target, 3), dtype=np.uint8)
        top, left = (height - target) // 2, (width - target) // 2 + int(rng.integers(-100, 100))
        canvas[top : top + target, left : left + target] = product
        path = folder / f"large_{i:05d}.jpg"
        Image.fromarray(canvas).save(path, quality=quality)
        paths.append(path)
    return paths


def link_livec(folder: Path, n: int) -> list[Path]:
    """Symlink the first ``n`` livec-train images (sorted by name) into ``folder`` (nothing copied)."""
    folder.mkdir(parents=True, exist_ok=True)
    images = sorted((data_dir() / "livec-train" / "images").iterdir())[:n]
    links = []
    for image in images:
        link = folder / image.name
        if not link.exists():
            link.symlink_to(image)
        links.append(link)
    return links


def _tree_rss(pid: int) -> int:
    """Resident memory (bytes) of process ``pid`` and all its descendants."""
    try:
        import psutil

        try:
            proc = psutil.Process(pid)
            procs = [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0
        total = 0
        for p in procs:
            with suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
        return total
    except ImportError:
        pass
    # /proc fallback: every process whose ancestry leads to pid
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parents[int(entry.name)] = int(stat[1])
            rss[int(entry.name)] = int((entry / "statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += rss.get(current, 0)
        stack.extend(child for child, parent in parents.items() if parent == current)
    return total


@dataclass
class RssSampler:
    """Samples the resident memory of a process tree in a background thread; ``peak`` is the largest seen."""

    pid: int
    interval: float = 0.1
    peak: int = 0
    samples: int = 0

    def sample(self) -> int:
        value = _tree_rss(self.pid)
        self.peak = max(self.peak, value)
        self.samples += 1
        return value


@contextmanager
def sampling_rss(pid: int | None = None, interval: float = 0.1) -> Iterator[RssSampler]:
    """Sample the RSS of ``pid`` (default: this process) and its children while the block runs."""
    sampler = RssSampler(pid or os.getpid(), interval)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            sampler.sample()
            stop.wait(sampler.interval)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield sampler
    finally:
        stop.set()
        thread.join()
        sampler.sample()


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    """``(seconds, count)`` for ``fn`` returning how many images it handled."""
    start = time.perf_counter()
    count = fn()
    return time.perf_counter() - start, count


def mib(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:.0f} MiB"
