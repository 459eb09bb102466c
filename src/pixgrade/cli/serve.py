"""``pixgrade serve``: the scoring API and web page (FastAPI on uvicorn)."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from typing import Any

from pixgrade.cli.options import BACKEND_CHOICES, BACKEND_HELP
from pixgrade.errors import ConfigError

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
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)"
    )
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    parser.add_argument("--model", default="default", help="'default' (shipped weights), a checkpoint path, or 'none'")
    parser.add_argument("--backend", default="auto", choices=BACKEND_CHOICES, help=BACKEND_HELP)
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
    parser.add_argument("--max-batch", type=int, default=8, help="largest model batch (default: 8)")
    parser.add_argument("--max-wait-ms", type=float, default=10.0, help="batching window in ms (default: 10)")
    parser.add_argument(
        "--max-queue", type=int, default=64, help="most images in progress; beyond it answer 503 (default: 64)"
    )
    parser.add_argument("--max-upload-mb", type=float, default=20.0, help="largest accepted file in MB (default: 20)")
    parser.add_argument("--max-files", type=int, default=16, help="most images per request (default: 16)")
    parser.add_argument(
        "--max-image-memory",
        type=int,
        default=1024,
        metavar="MIB",
        help="memory budget for decoding one image, known from its header; larger images get 413 (default: 1024)",
    )
    parser.add_argument("--threads", type=int, default=2, help="threads decoding and measuring uploads (default: 2)")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=0,
        help=(
            "PyTorch's intra-op threads, for the torch backend and heatmaps (default 0: PyTorch's choice; 1 is faster "
            "on a busy small machine); ONNX Runtime backends use PIXGRADE_NUM_THREADS or all CPUs"
        ),
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="close a connection whose request (headers and body) is not complete in this time (default: 30)",
    )
    parser.add_argument(
        "--keep-alive-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="close an idle keep-alive connection after this time (default: 5)",
    )
    parser.add_argument(
        "--max-inflight-mb",
        type=float,
        default=512.0,
        metavar="MB",
        help="upload bytes held at once over all requests; beyond it answer 503 before reading (default: 512)",
    )
    parser.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    return parser


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be in 1..65535, got {args.port}")
    if args.max_upload_mb <= 0:
        raise ConfigError(f"--max-upload-mb must be positive, got {args.max_upload_mb}")
    for flag, value in (
        ("--request-timeout", args.request_timeout),
        ("--keep-alive-timeout", args.keep_alive_timeout),
        ("--max-inflight-mb", args.max_inflight_mb),
        ("--max-image-memory", args.max_image_memory),
    ):
        if value <= 0:
            raise ConfigError(f"{flag} must be positive, got {value}")
    import uvicorn

    from pixgrade.serve.app import create_app

    api_key = args.api_key if args.api_key is not None else (os.environ.get("PIXGRADE_API_KEY") or None)
    if not _is_loopback(args.host) and api_key is None:
        print(
            f"pixgrade serve: warning: listening on {args.host} without an API key; anyone who can reach this "
            "address can use the service (set --api-key or PIXGRADE_API_KEY)",
            file=sys.stderr,
        )
    if args.torch_threads < 0:
        raise ConfigError(f"--torch-threads must be >= 0, got {args.torch_threads}")
    if args.torch_threads:  # applied when PyTorch loads (torch backend, heatmaps): INT8/ONNX serving never imports it
        from pixgrade.model.predictor import set_torch_threads

        set_torch_threads(args.torch_threads)
    from pixgrade.pipeline.scorer import Scorer

    try:
        scorer = Scorer(model=args.model, backend=args.backend, max_image_bytes=args.max_image_memory * 1024 * 1024)
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{exc}; pass --model CHECKPOINT for a trained checkpoint, or --model none for factor measures only"
        ) from None
    except (ValueError, ImportError) as exc:  # a backend that cannot run this model
        raise ConfigError(f"--backend {args.backend}: {exc}") from None
    app = create_app(
        scorer,
        policy=args.policy,
        api_key=api_key,
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
        max_queue=args.max_queue,
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
        max_files=args.max_files,
        max_bytes_in_flight=int(args.max_inflight_mb * 1024 * 1024),
        decode_threads=args.threads,
        catalog=args.catalog,
        catalog_model=_catalog_model(args.model) if args.catalog and scorer.predictor is not None else None,
    )
    if scorer.predictor is not None:
        print(f"pixgrade serve: model {scorer.model_name} on {scorer.predictor.description}", file=sys.stderr)
    print(f"pixgrade serve: http://{args.host}:{args.port}/  (API docs: /docs, metrics: /metrics)", file=sys.stderr)
    from pixgrade.serve.protocol import timed_protocol

    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.log_level == "debug",
        http=timed_protocol(args.request_timeout),
        timeout_keep_alive=max(1, round(args.keep_alive_timeout)),
    )
    return 0


def _catalog_model(model: str) -> str:
    from pixgrade.catalog.filtering import model_base_key

    return model_base_key(model)
