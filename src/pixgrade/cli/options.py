"""Argument types shared by the commands (argparse ``type=`` callables with clear messages)."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """An integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An integer of at least 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


BACKEND_CHOICES = ("auto", "int8", "onnx", "fp32", "torch")
"""``--backend`` values (:data:`pixgrade.model.predictor.BACKENDS`; not imported here to keep ``--help`` fast)."""
BACKEND_HELP = (
    "model runtime: auto (default) = the model's INT8 export on ONNX Runtime when onnxruntime is installed and an "
    "up-to-date INT8 file exists (shipped for the default model), else fp32 ONNX Runtime, else PyTorch; or force "
    "int8, onnx (fp32 ONNX Runtime), fp32 (exact weights: onnx, else torch) or torch"
)


def add_model_options(parser: argparse.ArgumentParser, workers_help: str | None = None) -> None:
    """``--model`` and ``--backend``, as every command that runs the model takes them (``score``, ``filter``,
    ``serve``, ``explain``; resolved by :func:`pixgrade.model.reference.resolve_model`), and ``--workers`` when
    ``workers_help`` is given."""
    parser.add_argument(
        "--model",
        default="default",
        metavar="default|none|PATH",
        help="'default' (shipped model), 'none' (measures only: a documented heuristic score), or a checkpoint",
    )
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default="auto", help=BACKEND_HELP)
    add_plugin_option(parser)
    if workers_help is not None:
        parser.add_argument("--workers", type=non_negative_int, default=None, metavar="N", help=workers_help)


PLUGIN_HELP = (
    "a module (dotted name on the Python path) or .py file whose import registers custom factors with "
    "pixgrade.measures.register_factor; they are measured, get their columns and can be named in policy rules "
    "(repeatable; default: $PIXGRADE_PLUGINS, separated by commas; see docs/factors.md)"
)


def add_plugin_option(parser: argparse.ArgumentParser) -> None:
    """``--plugin MODULE_OR_FILE`` (repeatable), as every command that scores images takes it (through
    :func:`add_model_options`, and ``serve``); resolved and loaded by :func:`load_plugin_args`."""
    parser.add_argument(
        "--plugin",
        dest="plugins",
        action="append",
        default=None,
        metavar="MODULE_OR_FILE",
        help=PLUGIN_HELP,
    )


def plugin_args(args: argparse.Namespace) -> tuple[str, ...]:
    """The plugins of the command: its ``--plugin`` options, else those of ``$PIXGRADE_PLUGINS``."""
    from pixgrade.measures.plugins import parse_plugins, plugins_from_env

    given = getattr(args, "plugins", None)
    return parse_plugins(given) if given else plugins_from_env()


def load_plugin_args(args: argparse.Namespace) -> tuple[str, ...]:
    """Load the command's plugins (:func:`plugin_args`) in this process, before a policy naming their factors is
    read; returns them (for the ``Scorer``, which hands them to its worker processes).

    Raises:
        ConfigError: a plugin that cannot be found or raises on import (exit status 2, naming it and the cause).
    """
    from pixgrade.measures.plugins import load_plugins

    plugins = plugin_args(args)
    load_plugins(plugins)
    return plugins


def add_memory_options(parser: argparse.ArgumentParser) -> None:
    """``--max-image-memory MIB`` and ``--max-file-mb MIB`` (default 1024 each), as ``score`` and ``filter`` take
    them: converted to bytes with :func:`memory_limits` and enforced by :func:`pixgrade.io.load_image` (from the
    header, before decoding) and :func:`pixgrade.io.read_source` (before reading)."""
    parser.add_argument(
        "--max-image-memory",
        type=positive_int,
        default=1024,
        metavar="MIB",
        help="memory budget for decoding one image, known from its header before decoding; larger images are "
        "refused with an error row, JPEGs first decoded at reduced size where scoring allows (default 1024 MiB)",
    )
    parser.add_argument(
        "--max-file-mb",
        type=positive_int,
        default=1024,
        metavar="MIB",
        help="refuse files larger than this before reading them (default 1024 MiB)",
    )


def memory_limits(args: argparse.Namespace) -> tuple[int, int]:
    """``(max_image_bytes, max_file_bytes)`` of the options :func:`add_memory_options` declares (their defaults
    when the namespace lacks them)."""
    image_mib = getattr(args, "max_image_memory", 1024)
    file_mib = getattr(args, "max_file_mb", 1024)
    return image_mib * 1024 * 1024, file_mib * 1024 * 1024
