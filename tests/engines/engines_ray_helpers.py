"""Constants and the Ray worker crash trigger of the engine tests (a module of its own, with a unique name, so the
tests import it and Ray can pickle the hook by value)."""

from __future__ import annotations

from typing import Any

N_GOOD = 30
"""Readable photos in ``photo_dir`` (plus ``broken.jpg``, ``empty.png`` and ``notes.txt``)."""

CRASH_MAGIC = b"PIXGRADE-TEST-CRASH"
"""A file starting with these bytes kills the Ray worker that decodes it (see :func:`install_crash_trigger`)."""

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def install_crash_trigger() -> None:
    """Ray ``worker_process_setup_hook``: in every Ray worker process, pixgrade's decoder entry point kills the
    process (``os._exit``, no Python cleanup, as a segfaulting native decoder would) when the file's bytes start
    with :data:`CRASH_MAGIC`. Other files decode as usual."""
    import os

    import pixgrade.pipeline.analysis as analysis

    original = analysis.load_image

    def load_image(source: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(source, bytes) and source.startswith(b"PIXGRADE-TEST-CRASH"):
            os._exit(70)
        return original(source, *args, **kwargs)

    analysis.load_image = load_image  # type: ignore[assignment]
