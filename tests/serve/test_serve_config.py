"""Service settings from a file, PIXGRADE_* variables and flags; several worker processes behind one port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pixgrade.errors import ConfigError
from pixgrade.serve.config import AppConfig, ServeConfig, config_to_env, load_config

ROOT = Path(__file__).resolve().parents[2]


def test_flags_override_env_which_overrides_the_file(tmp_path: Path) -> None:
    file = tmp_path / "serve.yaml"
    file.write_text("port: 9001\nmax-batch: 4\npolicy: amazon-main\nworkers: 3\n")
    assert load_config(file, env={}).port == 9001
    config = load_config(file, env={"PIXGRADE_PORT": "9002", "PIXGRADE_MAX_QUEUE": "10"}, flags={"port": 9003})
    assert (config.port, config.max_queue, config.max_batch, config.policy, config.workers) == (
        9003,
        10,
        4,
        "amazon-main",
        3,
    )
    assert load_config(None, env={"PIXGRADE_CONFIG": str(file)}).port == 9001
    json_file = tmp_path / "serve.json"
    json_file.write_text(json.dumps({"max_files": 2}))
    assert load_config(json_file, env={}).max_files == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour: red\n", "unknown setting 'colour'"),
        ("port: eighty\n", "port must be int"),
        ("port: 0\n", "port must be in 1..65535"),
        ("- a list\n", "must be a mapping"),
        ("port: [1\n", "not valid YAML"),
    ],
)
def test_bad_settings_are_named(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "serve.yaml"
    file.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(file, env={})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_queue": 0}, "max_queue must be >= 1, got 0"),
        ({"decode_threads": 0}, "decode_threads must be >= 1, got 0"),
        ({"max_wait_ms": -1.0}, "max_wait_ms must be >= 0"),
        ({"api_key": ""}, "api_key must not be empty"),
    ],
)
def test_app_config_is_checked_once_when_the_app_is_built(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AppConfig(**changes)  # type: ignore[arg-type]
    from pixgrade.pipeline.scorer import Scorer
    from pixgrade.serve.app import create_app

    with pytest.raises(ConfigError, match=message):  # create_app's keyword arguments are the same settings
        create_app(Scorer(model="none"), **changes)  # type: ignore[arg-type]


def test_app_config_caps_the_files_per_request_at_the_queue() -> None:
    config = AppConfig(max_files=16, max_queue=4, max_upload_bytes=1000)
    assert config.max_files == 4
    assert config.max_body > 4 * 1000


def test_bad_environment_variable_is_named() -> None:
    with pytest.raises(ConfigError, match=r"\$PIXGRADE_WORKERS"):
        load_config(None, env={"PIXGRADE_WORKERS": "many"})


def test_config_travels_to_workers_through_the_environment() -> None:
    config = ServeConfig(port=8123, workers=2, policy="ebay", api_key=None, max_wait_ms=2.5)
    assert load_config(None, env=config_to_env(config)) == config


def _children(pid: int) -> list[int]:
    """Child processes started by multiprocessing's spawn (uvicorn's workers; not its resource tracker)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    children = [int(p) for p in path.read_text().split()] if path.exists() else []
    workers = []
    for child in children:
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            workers.append(child)
    return workers


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="counts worker processes through /proc (Linux)")
def test_two_worker_processes_serve_one_port(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", "PIXGRADE_WORKERS": "2"}
    server = subprocess.Popen(
        [sys.executable, "-m", "pixgrade", "serve", "--model", "none", "--port", str(port), "--log-level", "warning"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        ready_pids: set[int] = set()
        live_answers = 0
        while (time.monotonic() < deadline and len(_children(server.pid)) < 2) or not ready_pids:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                with urllib.request.urlopen(f"{base}/v1/ready", timeout=5) as answer:
                    if answer.status == 200:
                        with urllib.request.urlopen(f"{base}/v1/live", timeout=5) as live:
                            ready_pids.add(int(json.loads(live.read())["pid"]))
                            live_answers += 1
            except OSError:
                time.sleep(0.3)
            if time.monotonic() > deadline:
                pytest.fail("the two-worker server did not come up")
        workers = set(_children(server.pid))
        assert len(workers) == 2  # uvicorn's two server processes under its supervisor
        for _ in range(30):  # fresh connections: every answer comes from one of the two workers
            with urllib.request.urlopen(f"{base}/v1/live", timeout=5) as live:
                ready_pids.add(int(json.loads(live.read())["pid"]))
                live_answers += 1
        assert ready_pids <= workers
        print(f"answers came from {len(ready_pids)} of the 2 workers")
        for _ in range(6):  # whichever worker answers the scrape, it counts the answers of both
            with urllib.request.urlopen(f"{base}/metrics", timeout=5) as scrape:
                text = scrape.read().decode()
            counted = [
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("pixgrade_http_requests_total{") and 'route="/v1/live"' in line
            ]
            assert sum(counted) == live_answers, text
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
