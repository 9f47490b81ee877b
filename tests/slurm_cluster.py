"""A real single-node Slurm cluster on localhost for the `slurm`-marked tests (session-scoped).

Debian's slurmctld + slurmd + munge, configured in a scratch folder: no cgroups
(proctrack/linuxproc, task/none), no accounting, free ports picked at start so that a cluster
someone else runs on this machine is never touched. munged runs as the munge user (as root it
refuses to start); slurmctld and slurmd run in the foreground (-D) in their own sessions. Every
daemon this fixture started is stopped by its PID at the end; jobs still known are cancelled first.

Skipped, with the reason, where it cannot run: not root, or the packages are not installed.
`.ci/run` installs them (slurmctld slurmd slurm-client munge) and sets VDI_REQUIRE_SLURM=1, which
makes the same conditions a failure: CI really runs these tests.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

NEEDED = ("slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo", "munged", "munge", "unmunge", "setpriv")


def unavailable() -> str | None:
    """Why this machine cannot run the cluster, or None."""
    if os.geteuid() != 0:
        return "the Slurm cluster fixture needs root (slurmd runs jobs as any user)"
    missing = [c for c in NEEDED if shutil.which(c) is None and not Path(f"/usr/sbin/{c}").exists()]
    if missing:
        return (f"Slurm packages missing ({', '.join(missing)}): apt-get install --no-install-recommends "
                f"slurmctld slurmd slurm-client munge")
    return None


def _exe(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _munge_ok() -> bool:
    try:
        cred = subprocess.run([_exe("munge"), "-n"], capture_output=True, timeout=5)
        if cred.returncode != 0:
            return False
        return subprocess.run([_exe("unmunge")], input=cred.stdout, capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _wait(what: str, ok, timeout: float, log: Path | None = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if ok():
            return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} not ready after {timeout:.0f}s\n{tail}")


@dataclass
class Cluster:
    root: Path
    conf: Path
    env: dict  # what a client needs: SLURM_CONF
    pids: dict = field(default_factory=dict)  # name -> pid of the daemons this fixture started
    started_s: float = 0.0

    def client_env(self, **extra) -> dict:
        return {**os.environ, **self.env, **{k: str(v) for k, v in extra.items()}}

    def squeue(self) -> str:
        return subprocess.run(["squeue", "-h", "-r", "-t", "all", "-o", "%i|%T|%j"], env=self.client_env(),
                              capture_output=True, text=True, timeout=30).stdout


def _start_munge(root: Path, procs: dict) -> None:
    if _munge_ok():
        return  # a munged already serves this machine: use it, do not start (or later stop) another
    munge = pwd.getpwnam("munge")
    for d, mode in (("/run/munge", 0o755), ("/var/log/munge", 0o700), ("/var/lib/munge", 0o700)):
        os.makedirs(d, exist_ok=True)
        os.chown(d, munge.pw_uid, munge.pw_gid)
        os.chmod(d, mode)
    key = Path("/etc/munge/munge.key")
    if not key.exists():
        subprocess.run([_exe("mungekey"), "--create", f"--keyfile={key}"], check=True, timeout=30)
    os.chown(key, munge.pw_uid, munge.pw_gid)
    os.chmod(key, 0o400)
    # setpriv execs munged itself, so the pid we hold is the daemon's.
    procs["munged"] = subprocess.Popen(
        ["setpriv", "--reuid=munge", "--regid=munge", "--clear-groups", "--", _exe("munged"), "-F"],
        stdout=open(root / "log" / "munged.out", "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    _wait("munged", _munge_ok, 20, root / "log" / "munged.out")


def _conf(root: Path) -> str:
    host = socket.gethostname().split(".")[0]
    probe = subprocess.run([_exe("slurmd"), "-C"], capture_output=True, text=True, timeout=30).stdout
    facts = dict(tok.split("=", 1) for tok in probe.split() if "=" in tok)
    cpus, mem = int(facts.get("CPUs", os.cpu_count() or 1)), int(int(facts.get("RealMemory", 2048)) * 0.8)
    return f"""ClusterName=vdici
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
KillWait=2
MinJobAge=3600
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def start(root: Path) -> tuple[Cluster, dict]:
    t0 = time.time()
    for d in ("state", "spool", "run", "log"):
        (root / d).mkdir(parents=True, exist_ok=True)
    procs: dict[str, subprocess.Popen] = {}
    conf = root / "slurm.conf"
    conf.write_text(_conf(root))
    cluster = Cluster(root, conf, {"SLURM_CONF": str(conf)})
    try:
        _start_munge(root, procs)
        env = cluster.client_env()
        for name in ("slurmctld", "slurmd"):
            procs[name] = subprocess.Popen([_exe(name), "-D", "-f", str(conf)], env=env,
                                           stdout=open(root / "log" / f"{name}.out", "wb"),
                                           stderr=subprocess.STDOUT, start_new_session=True)

        def idle() -> bool:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited ({proc.returncode}): "
                                       f"{(root / 'log' / f'{name}.out').read_text(errors='replace')[-2000:]}")
            out = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True, timeout=10)
            return out.stdout.strip() == "idle"

        _wait("the Slurm node", idle, 60, root / "log" / "slurmctld.log")
    except BaseException:
        stop(cluster, procs)
        raise
    cluster.pids = {name: p.pid for name, p in procs.items()}
    cluster.started_s = time.time() - t0
    return cluster, procs


def stop(cluster: Cluster, procs: dict) -> None:
    if "slurmctld" in procs and procs["slurmctld"].poll() is None:
        subprocess.run(["scancel", "--full", "-u", "root"], env=cluster.client_env(), capture_output=True, timeout=30)
    for name in ("slurmd", "slurmctld", "munged"):  # reverse start order, each by its own pid
        proc = procs.get(name)
        if proc is None or proc.poll() is not None:
            continue
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    reason = unavailable()
    if reason and os.environ.get("VDI_REQUIRE_SLURM"):
        pytest.fail(f"VDI_REQUIRE_SLURM is set (.ci/run) but {reason}")
    if reason:
        pytest.skip(reason)
    cluster, procs = start(tmp_path_factory.mktemp("slurm"))
    print(f"\nSlurm cluster up in {cluster.started_s:.1f}s (daemons {cluster.pids})")
    try:
        yield cluster
    finally:
        stop(cluster, procs)
