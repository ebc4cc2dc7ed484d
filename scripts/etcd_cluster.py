"""etcd members on loopback, the other side of ``bench_cluster.py --vs-etcd``.

:func:`find_etcd` returns the ``etcd`` binary on ``PATH``, installing
Debian's ``etcd-server`` (3.4) with ``apt-get`` when there is none.
:class:`EtcdCluster` starts members with a static ``--initial-cluster`` on
free loopback ports, each with its own data directory, at etcd's default
durability (its WAL is fsynced before a write is answered); it waits for
every member's ``/health`` with a deadline and, as a context manager,
stops every member it started, also when the run fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Final, Self

import httpx

from node.devnet.errors import NetworkError
from node.devnet.localnet import find_base_port, wait_for

PORT_RANGE: Final = (7700, 7900)
"""Apart from the validators' ports (``bench_cluster`` gives them 7600 - 7700)."""
INSTALL: Final = ("apt-get", "install", "-y", "--no-install-recommends", "etcd-server")


def find_etcd() -> str:
    """The ``etcd`` binary on ``PATH``; Debian's ``etcd-server`` is installed first if absent."""
    found = shutil.which("etcd")
    if found is not None:
        return found
    print(f"etcd: not on PATH, installing Debian etcd-server ({' '.join(INSTALL)})", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    failure = _run(INSTALL, env)
    if failure is not None:  # a stale package index is the usual cause: refresh it once
        failure = _run(("apt-get", "update"), env) or _run(INSTALL, env)
    found = shutil.which("etcd")
    if found is None:
        raise SystemExit(
            f"--vs-etcd: etcd is not on PATH and installing etcd-server failed: {failure}"
        )
    return found


def _run(cmd: tuple[str, ...], env: dict[str, str]) -> str | None:
    """Run ``cmd``; None when it succeeded, else its last line of complaint."""
    try:
        done = subprocess.run(
            cmd, check=False, env=env, capture_output=True, text=True, timeout=900
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{cmd[0]}: {e}"
    if done.returncode == 0:
        return None
    lines = (done.stderr or done.stdout).strip().splitlines() or [f"exit status {done.returncode}"]
    return f"{' '.join(cmd)}: {lines[-1]}"


def etcd_version(binary: str) -> str:
    """The version ``etcd --version`` prints, e.g. ``3.4.23``."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0].rsplit(" ", 1)[-1]


class EtcdCluster:
    """Members of one etcd cluster on loopback, under ``directory``; stopped on exit."""

    def __init__(
        self, binary: str, directory: Path, *, members: int = 4, max_txn_ops: int = 128
    ) -> None:
        self.directory = directory
        base = find_base_port(2 * members, *PORT_RANGE)
        self.names = [f"etcd-{i}" for i in range(members)]
        self.urls = [f"http://127.0.0.1:{base + i}" for i in range(members)]
        peers = [f"http://127.0.0.1:{base + members + i}" for i in range(members)]
        initial = ",".join(f"{n}={p}" for n, p in zip(self.names, peers, strict=True))
        self.commands = [
            [
                binary,
                *("--name", name, "--data-dir", str(directory / name)),
                *("--listen-client-urls", url, "--advertise-client-urls", url),
                *("--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer),
                *("--initial-cluster", initial, "--initial-cluster-state", "new"),
                *("--initial-cluster-token", "dgledger-bench"),
                *("--max-txn-ops", str(max(128, max_txn_ops)), "--log-level", "warn"),
            ]
            for name, url, peer in zip(self.names, self.urls, peers, strict=True)
        ]
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def log(self, i: int) -> Path:
        """Member ``i``'s log file."""
        return self.directory / f"{self.names[i]}.log"

    def start(self, timeout: float = 60.0) -> None:
        """Start every member and wait until each says it is healthy (has a leader)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
        for i, cmd in enumerate(self.commands):
            with self.log(i).open("ab") as log:
                self.procs.append(
                    subprocess.Popen(
                        cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
                    )
                )
        pending = set(range(len(self.procs)))
        with httpx.Client(timeout=httpx.Timeout(1.0)) as http:

            def healthy() -> bool:
                for i in sorted(pending):
                    if self.procs[i].poll() is not None:
                        tail = "\n".join(self.log(i).read_text(errors="replace").splitlines()[-20:])
                        raise NetworkError(f"{self.names[i]} exited:\n{tail}")
                    try:
                        answer = http.get(f"{self.urls[i]}/health")
                    except httpx.HTTPError:
                        continue
                    if answer.status_code == 200 and answer.json().get("health") == "true":
                        pending.discard(i)
                return not pending

            wait_for(healthy, timeout, "every etcd member to be healthy", interval=0.1)

    @property
    def pids(self) -> dict[str, int]:
        """Each member's process id, by name."""
        return {n: p.pid for n, p in zip(self.names, self.procs, strict=False)}

    def close(self, timeout: float = 15.0) -> None:
        """Stop every member (SIGTERM, then SIGKILL for any that lingers); idempotent."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
