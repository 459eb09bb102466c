"""Fixtures for the engine tests: one local Ray instance for the whole session (Ray is slow to start on 2 cores),
a local S3 endpoint (moto in server mode) when moto is installed and a bucket of photos on it, generated photos
and a tiny model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import engines_ray_helpers
import numpy as np
import pytest
from engines_ray_helpers import N_GOOD, S3_ENV, install_crash_trigger
from PIL import Image


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str | None]:
    """``http://127.0.0.1:PORT`` of a moto S3 server in this process, or None when moto is not installed."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        yield None
        return
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint: str | None, photo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Bucket ``shop`` on the local S3 endpoint holding nested/*, broken.jpg and a hidden file under ``photos/``;
    returns {uri: local file}. ``AWS_ENDPOINT_URL`` and test credentials are set for this process (pyarrow reads
    them from the environment); skipped when moto is not installed. Needs no Ray."""
    if s3_endpoint is None:
        pytest.skip("moto is not installed")
    import pyarrow.fs as pafs

    for key, value in {**S3_ENV, "AWS_ENDPOINT_URL": s3_endpoint}.items():
        monkeypatch.setenv(key, value)
    admin = pafs.S3FileSystem(
        access_key="testing",
        secret_key="testing",
        region="us-east-1",
        endpoint_override=s3_endpoint,
        allow_bucket_creation=True,
    )
    admin.create_dir("shop")
    uploaded = {}
    files = [*sorted((photo_dir / "nested").iterdir()), photo_dir / "broken.jpg"]
    for file in files:
        key = f"shop/photos/{'nested/' if file.parent.name == 'nested' else ''}{file.name}"
        with admin.open_output_stream(key) as handle:
            handle.write(file.read_bytes())
        uploaded[f"s3://{key}"] = str(file)
    with admin.open_output_stream("shop/photos/.hidden.jpg") as handle:
        handle.write((photo_dir / "broken.jpg").read_bytes())
    return uploaded


@pytest.fixture(scope="session")
def ray_instance(s3_endpoint: str | None) -> Iterator[Any]:
    """One local Ray instance (2 CPUs) for every engine test. Its workers get the S3 endpoint and credentials in
    their environment (as every node of a cluster would) and the crash trigger. Worker processes may take long to
    start on a busy 2-core machine: they get 10 minutes instead of Ray's 60 s."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    cloudpickle = pytest.importorskip("ray.cloudpickle")

    # The hook is sent to the workers by value: they cannot import the tests' helper module.
    cloudpickle.register_pickle_by_value(engines_ray_helpers)
    env = {**S3_ENV, "AWS_ENDPOINT_URL": s3_endpoint} if s3_endpoint else {}
    for attempt in range(3):
        try:
            ray.init(
                num_cpus=2,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                runtime_env={"env_vars": env, "worker_process_setup_hook": install_crash_trigger},
                _system_config={"worker_register_timeout_seconds": 600},
            )
            break
        except Exception:  # on a saturated machine the node may time out while starting (Ray's own ~15 s limit)
            ray.shutdown()
            if attempt == 2:
                raise
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised model capped at 96 px, saved as a checkpoint (fast to run everywhere)."""
    import torch

    from pixgrade.model import create_model
    from pixgrade.model.checkpoint import save_checkpoint

    torch.manual_seed(1)
    net = create_model(pretrained_backbone=False, max_side=96, hidden=16)
    return save_checkpoint(tmp_path_factory.mktemp("model") / "tiny.safetensors", net, {"note": "engine test"})


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few dozen generated photos of different sizes, formats and quality, plus broken files."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(7)
    for i in range(N_GOOD):
        height, width = int(rng.integers(60, 200)), int(rng.integers(60, 200))
        yy, xx = np.mgrid[0:height, 0:width]
        image = np.full((height, width, 3), 240.0)
        inside = ((yy - height / 2) / (height / 3)) ** 2 + ((xx - width / 2) / (width / 3)) ** 2 <= 1
        image[inside] = rng.uniform(0, 255, 3)
        image += rng.normal(0, 1 + i % 10, image.shape)
        pixels = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
        sub = root / ("nested" if i % 3 == 0 else "")
        sub.mkdir(exist_ok=True)
        if i % 4 == 0:
            pixels.save(sub / f"photo_{i:02d}.png")
        else:
            pixels.save(sub / f"photo_{i:02d}.jpg", quality=int(20 + 2 * i))
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    (root / "empty.png").write_bytes(b"")
    (root / "notes.txt").write_text("not an image")
    return root
