"""The zygote: a clean interpreter that forks one sandboxed process per program, up to
`workers` at a time, and reports each verdict to the harness as one JSON line on stdout."""

from __future__ import annotations

import errno
import gc
import json
import os
import selectors
import signal
import sys
from dataclasses import asdict, dataclass, field

from .limits import Limits
from .linux import (CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWUSER, MS_BIND, MS_NODEV,
                    MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, MS_REMOUNT, PR_SET_PDEATHSIG, mount, mount_points,
                    prctl, setns, unshare)
from .program import STATUS_FD, arrange_fds, lock_down, run, verdict

# Standard-library modules HumanEval programs import, loaded once in the zygote so that each
# forked program finds them ready.
PRELOAD = ("math", "re", "typing", "collections", "itertools", "functools", "string", "heapq", "bisect",
           "hashlib", "random", "statistics", "fractions", "decimal", "copy", "operator", "json",
           # needed by the guard, which imports them after the program's privileges are gone
           "shutil", "subprocess", "faulthandler", "resource")


@dataclass
class _Zygote:
    limits: Limits
    workers: int
    homes: tuple[str, ...] = ()
    use_namespaces: bool = True
    namespaces: bool = False  # each program in fresh mount and PID namespaces
    pid_namespace: int = -1  # the zygote's own PID namespace, restored after each program's fork
    as_root: bool = field(default_factory=lambda: os.geteuid() == 0)
    report: dict = field(default_factory=dict)

    def setup(self) -> None:
        """Enter private namespaces and make the file system read-only, where the kernel lets us.

        On success the process has a new PID namespace for its children: the caller forks the
        zygote proper, which is then that namespace's first process (when it dies, everything
        under it dies)."""
        report = self.report
        try:
            if not self.use_namespaces:
                raise OSError(errno.EPERM, "not used (namespaces=False)")
            if not self.as_root:
                uid, gid = os.getuid(), os.getgid()
                unshare(CLONE_NEWUSER)
                with open("/proc/self/setgroups", "w") as handle:
                    handle.write("deny")
                with open("/proc/self/uid_map", "w") as handle:
                    handle.write(f"0 {uid} 1")
                with open("/proc/self/gid_map", "w") as handle:
                    handle.write(f"0 {gid} 1")
            unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWPID)
            mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount reaches the host
            self.namespaces = True
        except OSError as exc:
            report["namespaces"] = f"unavailable ({exc})"
            report["network"] = "sockets refused by the Python guard only"
            report["file_system"] = ("program runs as an unprivileged uid; world-writable folders are exposed"
                                     if self.as_root else "NOT protected: the program has the user's permissions")
            report["processes"] = "leftovers killed by uid" if self.as_root else "process group killed (escapable)"
        else:
            self.hide_homes()
            failed = []
            for target, keep in mount_points():
                try:
                    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)
                except OSError:
                    failed.append(target)
            report["namespaces"] = ("user, " if not self.as_root else "") + "mount, network, IPC, PID; per program: mount, PID"
            report["network"] = "empty network namespace (loopback down)"
            report["file_system"] = (f"read-only except a private tmpfs working directory; {', '.join(self.homes)} hidden"
                                     + (f" (could not remount {', '.join(failed)})" if failed else ""))
            report["processes"] = "private PID namespace: the kernel kills leftovers"
        report["user"] = ("unprivileged uid per worker slot" if self.as_root
                          else "the user's uid without capabilities" if self.namespaces else "the user's uid")
        report["limits"] = asdict(self.limits)

    def hide_homes(self) -> None:
        """Cover the home folders (keys, tokens, caches) with an empty tmpfs; the Python
        installation, when it lives there (pyenv, a venv), is bound back at its own path."""
        interpreter = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, *sys.path) if os.path.isdir(p)}
        for home in self.homes:
            inside = sorted(p for p in interpreter if p.startswith(home.rstrip("/") + "/"))
            handles = [(p, os.open(p, os.O_PATH | os.O_DIRECTORY)) for p in inside]
            mount("tmpfs", home, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
            for path, fd in handles:
                os.makedirs(path, exist_ok=True)
                mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
                os.close(fd)

    def sandbox_uid(self, slot: int) -> int:
        """A uid no one else uses: the process limit and `kill(-1)` then concern only this program.
        (/proc is the host's: /proc/self names the zygote by its pid there, unique on the machine.)"""
        return 0x40000000 + (int(os.readlink("/proc/self")) << 6) + slot

    def serve(self) -> None:
        if self.namespaces:
            self.pid_namespace = os.open("/proc/self/ns/pid", os.O_RDONLY)
        _write_line({"isolation": self.report})
        selector = selectors.DefaultSelector()
        os.set_blocking(0, False)
        selector.register(0, selectors.EVENT_READ, "jobs")
        pending: list[dict] = []
        running: dict[int, _Job] = {}
        free_slots = list(range(self.workers))
        buffer, jobs_open = b"", True
        while jobs_open or pending or running:
            while pending and free_slots:
                job = _Job(pending.pop(0), free_slots.pop(0))
                self.start(job, selector)
                running[job.pidfd] = job
            deadline = min((job.deadline for job in running.values()), default=_now() + 1.0)
            for key, _ in selector.select(timeout=max(deadline - _now(), 0.0)):
                if key.data == "jobs":
                    chunk = _read_some(0)
                    if chunk is None:
                        continue
                    if not chunk:
                        jobs_open = False
                        selector.unregister(0)
                        continue
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    pending.extend(json.loads(line) for line in lines if line)
                elif key.data[0] == "pipe":
                    _, job, name = key.data
                    job.collect(name, selector, self.limits.output_bytes)
                else:  # the program's first process exited (and with it, in a PID namespace, all others)
                    job = key.data[1]
                    self.finish(job, selector)
                    del running[job.pidfd]
                    free_slots.append(job.slot)
            for job in running.values():
                # The runner's own alarm fires at `timeout`; this is for programs that block or disarm it.
                if not job.killed and _now() >= job.deadline:
                    os.kill(job.pid, signal.SIGKILL)
                    job.killed = True

    def start(self, job: _Job, selector) -> None:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        status_r, status_w = os.pipe()
        uid = self.sandbox_uid(job.slot) if self.as_root else None
        workdir = None
        if self.namespaces:
            unshare(CLONE_NEWPID)  # the next child is the first process of a fresh PID namespace
        else:
            import tempfile

            workdir = tempfile.mkdtemp(prefix="swallow-eval-exec-")
            if uid is not None:
                os.chown(workdir, uid, uid)
        pid = os.fork()
        if pid == 0:
            try:
                arrange_fds(out_w, err_w, res_w, status_w)
                try:
                    lock_down(self.limits, self.namespaces, workdir, uid)
                except BaseException as exc:  # noqa: BLE001 - the sandbox's own failure, before the program ran
                    os.write(STATUS_FD, f"sandbox setup: {type(exc).__name__}: {exc}".encode())
                    raise
                run(job.message["program"], self.limits.timeout)
            finally:
                os._exit(71)
        if self.namespaces:
            setns(self.pid_namespace, CLONE_NEWPID)
        for fd in (out_w, err_w, res_w, status_w):
            os.close(fd)
        job.pid, job.pidfd, job.workdir, job.uid = pid, os.pidfd_open(pid), workdir, uid
        job.deadline = _now() + self.limits.timeout + 1.0
        for name, fd in (("stdout", out_r), ("stderr", err_r), ("result", res_r), ("status", status_r)):
            os.set_blocking(fd, False)
            job.fds[name] = fd
            selector.register(fd, selectors.EVENT_READ, ("pipe", job, name))
        selector.register(job.pidfd, selectors.EVENT_READ, ("exited", job))

    def finish(self, job: _Job, selector) -> None:
        _, wait_status = os.waitpid(job.pid, 0)
        selector.unregister(job.pidfd)
        os.close(job.pidfd)
        if not self.namespaces:
            _kill_leftovers(job.pid, job.uid, job.workdir)
        for name in list(job.fds):
            job.collect(name, selector, self.limits.output_bytes, final=True)
        setup_error = job.data["status"].decode(errors="replace")
        if setup_error:
            _write_line({"id": job.id, "error": setup_error})
            return
        if job.killed:
            status = "timeout"
        elif os.WIFSIGNALED(wait_status):
            status = f"signal:{os.WTERMSIG(wait_status)}"
        else:
            status = f"exit:{os.WEXITSTATUS(wait_status)}"
        _write_line({"id": job.id, "result": verdict(bytes(job.data["result"]), status),
                     "stdout": job.data["stdout"].decode(errors="replace"),
                     "stderr": job.data["stderr"].decode(errors="replace")})


@dataclass
class _Job:
    message: dict
    slot: int
    pid: int = 0
    pidfd: int = -1
    deadline: float = 0.0
    killed: bool = False
    workdir: str | None = None
    uid: int | None = None
    fds: dict = field(default_factory=dict)
    data: dict = field(default_factory=lambda: {n: bytearray() for n in ("stdout", "stderr", "result", "status")})

    @property
    def id(self) -> int:
        return self.message["id"]

    def collect(self, name: str, selector, cap: int, final: bool = False) -> None:
        """Read what is there (keeping at most `cap` bytes); close the pipe at its end."""
        fd = self.fds.get(name)
        if fd is None:
            return
        while True:
            chunk = _read_some(fd)
            if chunk is None and not final:
                return
            if not chunk:
                selector.unregister(fd)
                os.close(fd)
                del self.fds[name]
                return
            kept = self.data[name]
            if len(kept) < cap:
                kept += chunk[: cap - len(kept)]



def _kill_leftovers(pid: int, uid: int | None, workdir: str) -> None:
    """Without a PID namespace: kill what the program left (every process of its uid, or its group)."""
    import shutil

    if uid is not None:
        killer = os.fork()
        if killer == 0:
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)  # as that uid: all its processes, and only those
            os._exit(0)
        os.waitpid(killer, 0)
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    shutil.rmtree(workdir, ignore_errors=True)


def _read_some(fd: int) -> bytes | None:
    """Up to 64 KiB from a non-blocking fd; None when nothing is there yet, b"" at its end."""
    try:
        return os.read(fd, 1 << 16)
    except BlockingIOError:
        return None
    except OSError as exc:
        if exc.errno == errno.EIO:
            return b""
        raise


def _write_line(message: dict) -> None:
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(1, data):]


def _now() -> float:
    import time

    return time.monotonic()


def main(config: str) -> None:
    settings = json.loads(config)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the harness dies: so do the zygote and its programs
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    for module in PRELOAD:
        __import__(module)
    gc.freeze()  # the collector then leaves the zygote's objects alone: forks copy fewer pages
    os.set_blocking(1, True)
    zygote = _Zygote(Limits(**settings["limits"]), settings["workers"], tuple(settings["homes"]), settings["namespaces"])
    zygote.setup()
    if zygote.namespaces:  # serve as the first process of the new PID namespace
        child = os.fork()
        if child:
            os._exit(os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) & 0xFF)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    zygote.serve()

