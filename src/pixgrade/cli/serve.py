"""``pixgrade serve``: the scoring API and web page (FastAPI on uvicorn)."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pixgrade.cli.options import BACKEND_CHOICES, BACKEND_HELP, add_plugin_option

logger = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "serve",
        help="run the scoring API and web page",
        description=(
            "Serve POST /v1/score, GET /v1/health, GET /metrics, the API docs at /docs and the web page at /. "
            "Uploads only: the service never fetches URLs or reads server-side paths."
        ),
    )
    parser.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="settings file (YAML or JSON; keys as the flags below without --). Precedence: flags > PIXGRADE_<NAME> "
        "environment variables (e.g. PIXGRADE_PORT, PIXGRADE_WORKERS; PIXGRADE_CONFIG names a file) > file > defaults",
    )
    parser.add_argument("--host", default=None, help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=None, help="TCP port (default: 8000)")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="server processes sharing the port, each with its own model and micro-batcher (default: 1)",
    )
    parser.add_argument("--model", default=None, help="'default' (shipped weights), a checkpoint path, or 'none'")
    parser.add_argument("--backend", default=None, choices=BACKEND_CHOICES, help=BACKEND_HELP)
    add_plugin_option(parser)  # PIXGRADE_PLUGINS, as every setting: how the worker processes receive them
    parser.add_argument("--policy", default=None, metavar="NAME", help="marketplace rule preset applied to each image")
    parser.add_argument(
        "--api-key",
        default=None,
        metavar="KEY",
        help="require this key on POST /v1/score (X-API-Key header); default: $PIXGRADE_API_KEY if set",
    )
    parser.add_argument(
        "--catalog",
        default=None,
        metavar="FILE",
        help="a catalogue written by `pixgrade filter`: enables POST /v1/duplicates against it",
    )
    parser.add_argument("--max-batch", type=int, default=None, help="largest model batch (default: 8)")
    parser.add_argument("--max-wait-ms", type=float, default=None, help="batching window in ms (default: 10)")
    parser.add_argument(
        "--max-queue", type=int, default=None, help="most images in progress; beyond it answer 503 (default: 64)"
    )
    parser.add_argument("--max-upload-mb", type=float, default=None, help="largest accepted file in MB (default: 20)")
    parser.add_argument("--max-files", type=int, default=None, help="most images per request (default: 16)")
    parser.add_argument(
        "--max-image-memory",
        type=int,
        default=None,
        metavar="MIB",
        help="memory budget for decoding one image, known from its header; larger images get 413 (default: 1024)",
    )
    parser.add_argument("--threads", type=int, default=None, help="threads decoding and measuring uploads (default: 2)")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help=(
            "PyTorch's intra-op threads, for the torch backend and heatmaps (default 0: PyTorch's choice; 1 is faster "
            "on a busy small machine); ONNX Runtime backends use PIXGRADE_NUM_THREADS or all CPUs"
        ),
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="close a connection whose request (headers and body) is not complete in this time (default: 30)",
    )
    parser.add_argument(
        "--keep-alive-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="close an idle keep-alive connection after this time (default: 5)",
    )
    parser.add_argument(
        "--max-inflight-mb",
        type=float,
        default=None,
        metavar="MB",
        help="upload bytes held at once over all requests; beyond it answer 503 before reading (default: 512)",
    )
    parser.add_argument(
        "--log-level", default=None, choices=("critical", "error", "warning", "info", "debug"), help="default: info"
    )
    return parser


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_SETTINGS = (
    "host",
    "port",
    "workers",
    "model",
    "backend",
    "policy",
    "api_key",
    "catalog",
    "max_batch",
    "max_wait_ms",
    "max_queue",
    "max_upload_mb",
    "max_files",
    "max_image_memory",
    "request_timeout",
    "keep_alive_timeout",
    "max_inflight_mb",
    "threads",
    "torch_threads",
    "log_level",
    "plugins",
)


@contextmanager
def _metrics_folder() -> Iterator[None]:
    """The folder where the worker processes write their metric values (prometheus-client's multiprocess mode):
    ``PROMETHEUS_MULTIPROC_DIR`` when set (the user's, kept afterwards), else a fresh temporary folder removed at
    the end. Set after this process made its own metrics, so only the workers write there."""
    from pixgrade.serve.metrics import MULTIPROCESS_ENV

    given = os.environ.get(MULTIPROCESS_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        if any(folder.glob("*.db")):
            print(
                f"pixgrade serve: warning: {folder} ({MULTIPROCESS_ENV}) holds metric files of an earlier run; "
                "/metrics counts them too (empty it before each start)",
                file=sys.stderr,
            )
        yield
        return
    folder = Path(tempfile.mkdtemp(prefix="pixgrade-metrics-"))
    os.environ[MULTIPROCESS_ENV] = str(folder)
    try:
        yield
    finally:
        os.environ.pop(MULTIPROCESS_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    from pixgrade.serve.config import config_to_env, load_config

    config = load_config(args.config, flags={name: getattr(args, name, None) for name in _SETTINGS})
    import uvicorn

    from pixgrade.serve.factory import app_from_config

    if not _is_loopback(config.host) and config.api_key is None:
        print(
            f"pixgrade serve: warning: listening on {config.host} without an API key; anyone who can reach this "
            "address can use the service (set --api-key or PIXGRADE_API_KEY)",
            file=sys.stderr,
        )
    common: dict[str, Any] = {"host": config.host, "port": config.port, "log_level": config.log_level}
    common["access_log"] = config.log_level == "debug"
    common["timeout_keep_alive"] = max(1, round(config.keep_alive_timeout))
    from pixgrade.serve.protocol import TimedH11Protocol, timed_protocol

    where = f"http://{config.host}:{config.port}/  (API docs: /docs, metrics: /metrics, probes: /v1/live, /v1/ready)"
    if config.workers > 1:
        # uvicorn's worker processes each import the app factory, which reads these settings from the environment
        os.environ.update(config_to_env(config))
        app_from_config(config, announce=True)  # fail here, once, with a clear message, if something cannot load
        print(f"pixgrade serve: {config.workers} worker processes on {where}", file=sys.stderr)
        # the protocol class by reference (each worker sets its time-out from the environment, app_from_env)
        common["http"] = TimedH11Protocol
        with _metrics_folder():  # /metrics adds up every worker's values
            uvicorn.run("pixgrade.serve.factory:app_from_env", factory=True, workers=config.workers, **common)
        return 0
    app = app_from_config(config, announce=True)
    print(f"pixgrade serve: {where}", file=sys.stderr)
    uvicorn.run(app, http=timed_protocol(config.request_timeout), **common)
    return 0
