"""`pip install pathkv` is the client and the command line only; the server is
`pathkv[server]`. Proved twice: with the server's modules made unimportable, and by a real
install of this repository into a fresh virtual environment."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from pathkv.client import Client
from tests.client.conftest import ADMIN
from tests.servers import PathkvServer

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY = ("granian", "glide", "orjson", "msgpack", "prometheus_client", "uvloop")
WITHOUT_SERVER = f"""
import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {SERVER_ONLY!r}:
            raise ImportError(f"No module named {{name!r}} (not installed)")
        return None
sys.meta_path.insert(0, Refuse())
from pathkv.cli import main
code = main(sys.argv[1:])
server = {SERVER_ONLY!r}
loaded = [m for m in sys.modules if m.split(".")[0] in server or m.startswith("pathkv.core")]
assert not loaded, loaded
sys.exit(code)
"""


def without_server(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_SERVER, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_client_and_its_commands_need_nothing_of_the_server(server: PathkvServer) -> None:
    with Client(server.base, token=ADMIN) as admin:
        admin.put_tenant("light")
        secret = admin.create_token("light")["token"]
    common = ("--url", server.base, "--token", secret)
    put = without_server("put", "/light/a", '{"ok": true}', *common)
    assert put.returncode == 0, put.stderr
    assert without_server("ls", "/light/", *common).stdout.splitlines() == ["/light/a"]
    served = without_server("serve")
    assert served.returncode == 2 and "pip install 'pathkv[server]'" in served.stderr
    assert len(served.stderr.strip().splitlines()) == 1
    exported = without_server("export", "--store", "sqlite:///nowhere.db")
    assert exported.returncode == 2 and "pathkv[server]" in exported.stderr


@pytest.mark.slow
def test_a_real_install_without_extras_is_light(tmp_path: Path) -> None:
    env_dir = tmp_path / "light"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", str(ROOT)],
        check=True,
        timeout=600,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.lower()
    assert "httpx==" in listed and "click==" in listed and "rich==" in listed
    for heavy in ("granian", "valkey-glide", "orjson", "msgpack", "prometheus-client"):
        assert f"{heavy}==" not in listed, heavy
    pathkv = env_dir / "bin" / "pathkv"
    server = PathkvServer(f"sqlite:///{tmp_path / 'light.db'}")
    server.start()
    try:
        put = subprocess.run(
            [pathkv, "put", "/from/light", "{}", "--url", server.base],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert put.returncode == 0, put.stderr
    finally:
        server.stop()
    served = subprocess.run([pathkv, "serve"], capture_output=True, text=True, timeout=60)
    assert served.returncode == 2 and "pathkv[server]" in served.stderr
