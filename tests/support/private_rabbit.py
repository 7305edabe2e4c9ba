"""A RabbitMQ node of a test's own, to restart without touching the shared brokers.

The node runs the RabbitMQ of ``HARE_RABBITMQ`` (the machine's, or 4.0 from the Debian 13 root
of scripts/rabbitmq4.sh, through chroot, as scripts/cluster.sh runs its nodes) with its own
node name, ports, data directory and Erlang cookie: stopping it affects no one else. It has no
plugins (AMQP only), so it boots in seconds.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.support.broker import VERSION_CHOICE

ROOT_DIR = Path(__file__).resolve().parents[2]
RMQ_BIN = "/usr/lib/rabbitmq/bin"  # as the node sees it (inside the root for 4.0)
BOOT_TIMEOUT_S = 90.0


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class PrivateRabbit:
    """One node: ``start()``, ``stop()`` (the whole VM, as a restart's first half), ``close()``.

    Ports from ``port_base`` B: AMQP B+1, distribution B+4, CLI distribution B+10..B+20.
    """

    def __init__(self, name: str, port_base: int) -> None:
        four = VERSION_CHOICE == "4.0"
        self.root = self._root() if four else ""
        self.run = ["chroot", self.root] if four else []
        self.node = f"{'r4' if four else ''}{name}@localhost"
        self.amqp_port = port_base + 1
        self.dist_port = port_base + 4
        self.cli_ports = (port_base + 10, port_base + 20)
        # one fixed directory per node: a node an interrupted run left behind is found there
        self.dir = Path(f"{self.root}/tmp/hare-{self.node.split('@')[0]}-{port_base}")
        self._end_left_over()
        self.dir.mkdir(mode=0o700)
        self.url = f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/"
        self.process: subprocess.Popen[bytes] | None = None
        self._write_files()

    def _end_left_over(self) -> None:
        """SIGKILL a node an earlier run of this test left running here (its beam.pid, if the
        process still runs with this directory's env file), and delete the directory."""
        pid_file = self.dir / "beam.pid"
        if pid_file.is_file():
            pid = pid_file.read_text().strip()
            environ = Path(f"/proc/{pid}/environ")
            needle = f"{self.inside(self.dir)}/rabbitmq-env.conf".encode()
            with contextlib.suppress(OSError, ValueError):
                if pid.isdigit() and needle in environ.read_bytes():
                    os.kill(int(pid), signal.SIGKILL)
                    deadline = time.monotonic() + 10
                    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                        time.sleep(0.1)
        shutil.rmtree(self.dir, ignore_errors=True)

    @staticmethod
    def _root() -> str:
        done = subprocess.run(
            ["bash", str(ROOT_DIR / "scripts/rabbitmq4.sh"), "root"],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        return done.stdout.strip().splitlines()[-1]

    def inside(self, path: Path) -> str:
        """``path`` as the node sees it."""
        return str(path)[len(self.root) :] if self.root else str(path)

    def _write_files(self) -> None:
        here = self.inside(self.dir)
        for sub in ("data", "log", "home"):
            (self.dir / sub).mkdir()
        cookie = self.dir / "home/.erlang.cookie"
        cookie.write_text("HAREOUTBOX" + os.urandom(5).hex().upper())
        cookie.chmod(0o400)
        (self.dir / "home").chmod(0o700)
        (self.dir / "rabbitmq-env.conf").write_text(
            f"NODENAME={self.node}\n"
            f"NODE_PORT={self.amqp_port}\n"
            f"DIST_PORT={self.dist_port}\n"
            f"CTL_DIST_PORT_MIN={self.cli_ports[0]}\n"
            f"CTL_DIST_PORT_MAX={self.cli_ports[1]}\n"
            f"CONFIG_FILE={here}/rabbitmq.conf\n"
            f"ENABLED_PLUGINS_FILE={here}/enabled_plugins\n"
            f"MNESIA_BASE={here}/data\n"
            f"LOG_BASE={here}/log\n"
            f"PID_FILE={here}/beam.pid\n"
            "ERL_EPMD_ADDRESS=127.0.0.1\n"
            'SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"\n'
        )
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.amqp_port}\n"
            "disk_free_limit.absolute = 50MB\n"
            "log.console = false\n"
            "log.file.level = info\n"
        )
        (self.dir / "enabled_plugins").write_text("[].\n")

    def _env(self) -> dict[str, str]:
        here = self.inside(self.dir)
        return {
            **os.environ,
            "HOME": f"{here}/home",
            "RABBITMQ_CONF_ENV_FILE": f"{here}/rabbitmq-env.conf",
        }

    def start(self) -> float:
        """Start the VM and wait until it accepts AMQP connections; the seconds it took."""
        started = time.monotonic()
        for port in (self.amqp_port, self.dist_port):
            if port_open(port):
                msg = f"port {port} for {self.node} is taken; is an earlier test node left over?"
                raise RuntimeError(msg)
        log = (self.dir / "log/console.log").open("ab")
        self.process = subprocess.Popen(
            [*self.run, f"{RMQ_BIN}/rabbitmq-server"],
            cwd=self.dir,
            env=self._env(),
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = started + BOOT_TIMEOUT_S
        while not port_open(self.amqp_port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                msg = f"{self.node} did not boot; the end of its log:\n{self.log_tail()}"
                raise RuntimeError(msg)
            time.sleep(0.1)
        self.ctl("await_startup", "--timeout", str(int(BOOT_TIMEOUT_S)))
        return time.monotonic() - started

    def stop(self) -> None:
        """Stop the node's VM (``rabbitmqctl stop``: a clean shutdown, as a service restart)."""
        self.ctl("stop", f"{self.inside(self.dir)}/beam.pid", timeout=30)
        if self.process is not None:
            self.process.wait(30)
            self.process = None

    def ctl(self, *args: str, timeout: float = BOOT_TIMEOUT_S + 30) -> str:
        """``rabbitmqctl -n NODE ARGS`` with the node's cookie; its stdout."""
        done = subprocess.run(
            [*self.run, f"{RMQ_BIN}/rabbitmqctl", "-n", self.node, *args],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            msg = f"rabbitmqctl {' '.join(args)} on {self.node} failed: {done.stderr.strip()}"
            raise RuntimeError(msg)
        return done.stdout

    def log_tail(self, lines: int = 30) -> str:
        text = []
        for log in sorted((self.dir / "log").glob("*.log")):
            text += log.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(text)

    def close(self) -> None:
        """Stop the node if it runs (its process group killed if it does not stop: the VM runs
        in the session ``start`` made) and delete its directory."""
        if self.process is not None and self.process.poll() is None:
            try:
                self.stop()
            except (RuntimeError, subprocess.TimeoutExpired):
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)
