"""Private Mosquitto brokers from the shipped configs: the compose one (scripts/docker/mosquitto.conf) and
the one scripts/run.sh writes from it (scripts/lib.sh ``dev_mosquitto_conf``)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.env import free_port

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "scripts" / "docker" / "mosquitto.conf"


def dev_conf(port: int, auth: Path, data: Path) -> str:
    """The config scripts/run.sh gives its own broker."""
    return subprocess.run(["bash", "-c", 'source scripts/lib.sh && dev_mosquitto_conf "$@"', "_", str(port),
                           str(auth), str(data)], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def docker_conf(port: int, auth: Path, data: Path) -> str:
    """The compose config with its container paths moved."""
    return SHIPPED.read_text().replace("/mosquitto/auth/", f"{auth}/").replace(
        "/mosquitto/data/", f"{data}/").replace("listener 1883", f"listener {port} 127.0.0.1")


@dataclass
class Broker:
    proc: subprocess.Popen
    port: int
    work: Path  # auth/ (passwd, acl, devices.csv) and data/

    @property
    def auth(self) -> Path:
        return self.work / "auth"


@contextmanager
def private_broker(kind: str, write_auth: Callable[[Path], object]) -> Iterator[Broker]:
    """Mosquitto from the ``kind`` config ("docker" or "dev") in a temp folder; ``write_auth`` fills auth/
    before it starts."""
    work = Path(tempfile.mkdtemp(prefix="zhijian-broker-"))
    work.chmod(0o777)  # mosquitto started as root drops to its own user
    (work / "data").mkdir(mode=0o777)
    (work / "data").chmod(0o777)
    write_auth(work / "auth")
    port = free_port()
    conf = (dev_conf if kind == "dev" else docker_conf)(port, work / "auth", work / "data")
    assert "allow_anonymous false" in conf and f"password_file {work}/auth/passwd" in conf
    (work / "mosquitto.conf").write_text(conf)
    proc = subprocess.Popen(["mosquitto", "-c", str(work / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"mosquitto did not start with the {kind} config")
        yield Broker(proc, port, work)
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)
