"""Private Mosquitto brokers from the shipped configs: the compose one (scripts/docker/mosquitto.conf) and
the one scripts/run.sh writes from it (scripts/lib.sh ``dev_mosquitto_conf``); logins live in the
dynamic-security plugin (issue 18), provisioned through its admin after the start."""

from __future__ import annotations

import glob
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.env import free_port

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "scripts" / "docker" / "mosquitto.conf"


PLUGINS = sorted(glob.glob("/usr/lib/*/mosquitto_dynamic_security.so") + glob.glob("/usr/lib/mosquitto_dynamic_security.so"))
HAVE_DYNSEC = bool(shutil.which("mosquitto") and shutil.which("mosquitto_ctrl") and PLUGINS)
ADMIN_USER = "zhijian-admin"


def dev_conf(port: int, data: Path) -> str:
    """The config scripts/run.sh gives its own broker."""
    return subprocess.run(["bash", "-c", 'source scripts/lib.sh && dev_mosquitto_conf "$@"', "_", str(port),
                           str(data)], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def docker_conf(port: int, data: Path) -> str:
    """The compose config with its container paths moved (and this machine's plugin path)."""
    return (SHIPPED.read_text().replace("/mosquitto/data/", f"{data}/")
            .replace("listener 1883", f"listener {port} 127.0.0.1")
            .replace("plugin /usr/lib/mosquitto_dynamic_security.so", f"plugin {PLUGINS[0]}"))


def dynsec_init(data: Path, password: str) -> None:
    """What compose's mosquitto service and run.sh do on first start: the plugin's file with its admin."""
    config = data / "dynamic-security.json"
    subprocess.run(["mosquitto_ctrl", "dynsec", "init", str(config), ADMIN_USER, password], check=True,
                   capture_output=True)
    config.chmod(0o666)  # mosquitto started as root drops to its own user, which saves the plugin's state


@dataclass
class Broker:
    proc: subprocess.Popen
    port: int
    work: Path  # auth/ (devices.csv) and data/ (persistence, dynamic-security.json)
    admin_url: str  # the dynamic-security admin's login

    @property
    def auth(self) -> Path:
        return self.work / "auth"


@contextmanager
def private_broker(kind: str) -> Iterator[Broker]:
    """Mosquitto from the ``kind`` config ("docker" or "dev") in a temp folder, with the dynamic-security
    plugin initialised (an admin login, no devices yet)."""
    work = Path(tempfile.mkdtemp(prefix="zhijian-broker-"))
    work.chmod(0o777)  # mosquitto started as root drops to its own user
    (work / "data").mkdir(mode=0o777)
    (work / "data").chmod(0o777)
    password = "admin-" + uuid.uuid4().hex
    dynsec_init(work / "data", password)
    port = free_port()
    conf = (dev_conf if kind == "dev" else docker_conf)(port, work / "data")
    assert "allow_anonymous false" in conf and f"plugin_opt_config_file {work}/data/dynamic-security.json" in conf
    assert "password_file" not in conf and "acl_file" not in conf
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
        yield Broker(proc, port, work, f"mqtt://{ADMIN_USER}:{password}@127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)
