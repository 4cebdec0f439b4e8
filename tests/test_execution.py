"""The code sandbox against hostile programs: each is contained and gets a failing verdict, and the
harness goes on (a correct program after the battery still passes, in the same sandbox)."""

import json
import os
import resource
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import REPO
from swallow_eval.execution import Limits, Sandbox, run_programs

LIMITS = Limits(timeout=1.0)
SANDBOX_UIDS = 0x40000000  # the sandbox's uids start here (sandbox.zygote._Zygote.sandbox_uid)


def sandbox_processes() -> list[int]:
    """Processes running as a sandbox uid, anywhere on the machine."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid >= SANDBOX_UIDS:
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def tree_snapshot(root: Path) -> dict[str, tuple[int, int]]:
    skipped = {".git", ".venv", "__pycache__", ".pytest_cache"}
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
            if p.is_file() and not skipped.intersection(p.parts)}


@pytest.fixture(scope="module")
def battery(tmp_path_factory):
    """Run every hostile program once, in one sandbox, and keep what the outside saw."""
    secret = secrets.token_hex(16)
    os.environ["SWALLOW_EVAL_TEST_SECRET"] = secret
    home_canary = Path.home() / f".swallow-eval-canary-{secret[:8]}"
    project_canary = REPO / f".swallow-eval-canary-{secret[:8]}"
    for canary in (home_canary, project_canary):
        canary.write_text("original")
    victim = subprocess.Popen(["sleep", "120"])
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    port = server.getsockname()[1]
    host_tmp_marker = f"/tmp/swallow-eval-escape-{secret[:8]}"
    before = tree_snapshot(REPO)
    programs = {
        "infinite loop": "while True:\n    pass",
        "C-level loop that ignores the alarm": "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                                               "while True:\n    pass",
        "fork bomb": "import posix\nwhile True:\n    try:\n        posix.fork()\n    except OSError:\n        pass",
        "allocate 20 GB": "x = bytearray(20 * 2**30)\nx[-1] = 1",
        "write and delete in the home folder": (
            f"import posix\nposix.unlink({str(home_canary)!r})\n"
            f"open({str(home_canary)!r}, 'w').write('owned')\n"
            f"open({str(Path.home() / 'swallow-eval-new-file')!r}, 'w').write('owned')"),
        "write and delete in the project folder": (
            f"import posix\ntry:\n    posix.unlink({str(project_canary)!r})\nexcept OSError:\n    pass\n"
            f"open({str(project_canary)!r}, 'w').write('owned')"),
        "escape through /tmp": f"open({host_tmp_marker!r}, 'w').write('x')\nassert False",
        "kill the parent, the harness and everyone": (
            f"import posix, signal\nfor pid in (posix.getppid(), {os.getpid()}, {victim.pid}, -1):\n"
            "    try:\n        posix.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\nassert False"),
        "os._exit(0) before the tests": "import os\nos._exit(0)\nassert False",
        "sys.exit(0) before the tests": "import sys\nsys.exit(0)\nassert False",
        "raise SystemExit from inside the checked function": (
            "def f():\n    raise SystemExit(0)\ndef check(candidate):\n    assert candidate() == 1\ncheck(f)"),
        "redefine check before the real one": (
            "def f():\n    return 0\ncheck = lambda candidate: True\n"
            "def check(candidate):\n    assert candidate() == 1\ncheck(f)"),
        "patch AssertionError and the writer of the verdict": (
            "import builtins, os\nbuiltins.AssertionError = type('Fake', (Exception,), {})\n"
            "real_write = os.write\nos.write = lambda fd, data: real_write(fd, data.replace(b'F', b'P'))\nassert False"),
        "forge a verdict record and exit": "import posix\nfor fd in range(3, 8):\n    try:\n"
                                           "        posix.write(fd, b'P')\n    except OSError:\n        pass\n"
                                           "posix._exit(0)",
        "print passed and register an atexit hook": (
            "import atexit\nprint('passed')\natexit.register(lambda: print('passed'))\nassert False"),
        "KeyboardInterrupt": "raise KeyboardInterrupt",
        "flood stdout with 1 GB": (
            "import sys, posix\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)\n"
            "sys.stdout.flush()\nfor _ in range(1024):\n    posix.write(1, b'y' * (1 << 20))\nassert False"),
        "deep recursion": (  # through map(), a C function, so that the C stack overflows
            "import sys\nsys.setrecursionlimit(10**8)\ndef f(n):\n    return list(map(f, [n + 1]))\nf(0)"),
        "segfault via ctypes": "import ctypes\nctypes.string_at(0)",
        "connect to a port the test opened": (
            f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=1)\ns.sendall(b'hi')"),
        "read the secret": (
            "import os, glob\nfound = [os.environ.get('SWALLOW_EVAL_TEST_SECRET', '')]\n"
            "for path in glob.glob('/proc/*/environ') + glob.glob('/proc/*/cmdline'):\n    try:\n"
            "        found.append(open(path, 'rb').read().decode(errors='replace'))\n    except OSError:\n"
            "        pass\nprint(found)\nassert any('SWALLOW_EVAL_TEST_SECRET=' in f for f in found)"),
    }
    correct = "def add(a, b):\n    return a + b\n\nassert add(2, 3) == 5"
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    try:
        with Sandbox(LIMITS) as sandbox:
            outcomes = sandbox.run([*programs.values(), correct])
            again = sandbox.run([correct])
        elapsed = time.monotonic() - started
        time.sleep(0.2)
        seen = {
            "outcomes": dict(zip([*programs, "correct"], outcomes)),
            "again": again[0],
            "elapsed": elapsed,
            "rss_growth_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before,
            "leftovers": sandbox_processes(),
            "victim_alive": victim.poll() is None,
            "home_canary": home_canary.read_text(),
            "project_canary": project_canary.read_text(),
            "new_home_file": (Path.home() / "swallow-eval-new-file").exists(),
            "host_tmp_marker": Path(host_tmp_marker).exists(),
            "project_changed": {k for k, v in tree_snapshot(REPO).items() if before.get(k) != v} - {str(project_canary)},
            "secret": secret,
            "isolation": sandbox.isolation,
        }
        try:
            server.accept()
            seen["connections"] = 1
        except BlockingIOError:
            seen["connections"] = 0
        yield seen
    finally:
        victim.kill()
        server.close()
        home_canary.unlink(missing_ok=True)
        project_canary.unlink(missing_ok=True)
        os.environ.pop("SWALLOW_EVAL_TEST_SECRET", None)


def test_every_hostile_program_fails(battery):
    verdicts = {name: o.result for name, o in battery["outcomes"].items()}
    assert verdicts.pop("correct") == "passed"
    assert battery["again"].passed
    assert [name for name, result in verdicts.items() if result == "passed"] == []
    assert verdicts["infinite loop"] == "timed out"
    assert verdicts["C-level loop that ignores the alarm"] == "timed out"
    assert verdicts["os._exit(0) before the tests"] == "failed: exited with code 0 before the tests finished"
    assert verdicts["sys.exit(0) before the tests"] == "failed: 0"  # the reference's f"failed: {e}"
    assert verdicts["forge a verdict record and exit"] == "failed: the verdict record was tampered with"
    assert verdicts["segfault via ctypes"] == "failed: killed by SIGSEGV"
    assert verdicts["deep recursion"] == "failed: killed by SIGSEGV"
    assert verdicts["connect to a port the test opened"] == "failed: [Errno 101] Network is unreachable"
    # every hostile program together costs about its timeouts, not more
    assert battery["elapsed"] < 30


def test_the_outside_is_untouched(battery):
    assert battery["victim_alive"]
    assert battery["leftovers"] == []
    assert battery["home_canary"] == battery["project_canary"] == "original"
    assert not battery["new_home_file"] and not battery["host_tmp_marker"]
    assert battery["project_changed"] == set()
    assert battery["connections"] == 0
    assert battery["rss_growth_kb"] < 200_000  # the 1 GB flood was not buffered in the harness


def test_output_is_captured_and_capped(battery):
    flood = battery["outcomes"]["flood stdout with 1 GB"]
    assert len(flood.stdout) == LIMITS.output_bytes and set(flood.stdout) <= {"x", "y"}
    assert "passed" in battery["outcomes"]["print passed and register an atexit hook"].stdout


def test_the_secret_is_not_visible(battery):
    outcome = battery["outcomes"]["read the secret"]
    assert outcome.result.startswith("failed")
    assert battery["secret"] not in outcome.stdout + outcome.stderr
    assert "SWALLOW_EVAL_TEST_SECRET" not in outcome.stdout


def test_isolation_report_names_the_protections(battery):
    report = battery["isolation"]
    assert set(report) >= {"namespaces", "network", "file_system", "processes", "user", "limits"}
    if os.geteuid() == 0:  # what CI and this machine have: everything holds
        assert report["network"] == "empty network namespace (loopback down)"
        assert report["user"] == "unprivileged uid per worker slot"


MIXED = [
    "assert sum(range(10)) == 45",
    "assert sorted([3, 1, 2]) == [1, 2, 3]",
    "assert 1 == 2",
    "raise ValueError('bad')",
    "import time\ntime.sleep(5)",
    "def f(x):\n    return x * 2\nassert f(2) == 4",
    "x = undefined_name",
    "import math\nassert math.isclose(math.pi, 3.14159, rel_tol=1e-5)",
] * 3


def test_results_do_not_depend_on_the_worker_count():
    one = [o.result for o in run_programs(MIXED, LIMITS, workers=1)]
    three = [o.result for o in run_programs(MIXED, LIMITS, workers=3)]
    assert one == three
    assert one[:8] == ["passed", "passed", "failed: ", "failed: bad", "timed out", "passed",
                       "failed: name 'undefined_name' is not defined", "passed"]


def test_working_directory_is_fresh_and_writable():
    program = ("import os\nassert os.listdir('.') == []\nopen('scratch.txt', 'w').write('data')\n"
               "assert open('scratch.txt').read() == 'data'\nopen('/var/tmp/other.txt', 'w').write('x')\n"
               "assert sorted(os.listdir('/tmp')) == ['other.txt', 'scratch.txt']")
    assert [o.result for o in run_programs([program, program], LIMITS, workers=1)] == ["passed", "passed"]


ROOTLESS_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from swallow_eval.execution import Limits, run_programs, Sandbox
programs = [
    "assert 1 + 1 == 2",
    "caps = open('/proc/self/status').read().split('CapEff:')[1].split()[0]\\nassert int(caps, 16) == 0, caps",
    f"open({sys.argv[2]!r}, 'w').write('x')",
    "import posix\\nwhile True:\\n    posix.fork()",
    "import socket\\nsocket.create_connection(('127.0.0.1', 22), timeout=1)",
]
with Sandbox(Limits(timeout=1.0), workers=1) as sandbox:
    print(json.dumps({"isolation": sandbox.isolation, "results": [o.result for o in sandbox.run(programs)]}))
"""


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists() or not Path("/usr/bin/python3").exists(),
                    reason="needs root to become another user, setpriv and a system python3")
def test_without_root_a_user_namespace_holds(tmp_path):
    """The rootless path (user namespace, no capabilities), run as `nobody` with the system Python
    (the sandbox is standard library only). The host's world-writable /tmp must stay untouched."""
    # A folder outside /tmp that `nobody` may write: only the read-only remount stops the program.
    writable = REPO / f".swallow-eval-rootless-{secrets.token_hex(4)}"
    writable.mkdir()
    os.chown(writable, 65534, 65534)
    marker = writable / "escaped"
    try:
        done = subprocess.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               "/usr/bin/python3", "-I", "-c", ROOTLESS_SCRIPT, str(REPO), str(marker)],
                              capture_output=True, text=True, cwd="/", timeout=60)
        escaped = marker.exists()
    finally:
        marker.unlink(missing_ok=True)
        writable.rmdir()
    if done.returncode != 0 and ("No module named" in done.stderr or "Permission denied" in done.stderr):
        pytest.skip(f"the checkout is not readable by nobody: {done.stderr.strip()[-200:]}")
    report = json.loads(done.stdout)
    assert report["isolation"]["namespaces"].startswith("user, mount, network")
    assert report["isolation"]["user"] == "the user's uid without capabilities"
    assert report["results"][:2] == ["passed", "passed"]
    # Outside /tmp the read-only remount refuses the write; a checkout under /tmp is hidden by the
    # private /tmp altogether.
    refused = "No such file or directory" if str(marker).startswith("/tmp/") else "Read-only file system"
    assert report["results"][2].startswith("failed: [Errno") and f"{refused}: '{marker}'" in report["results"][2]
    assert report["results"][3] in ("timed out", "failed: [Errno 11] Resource temporarily unavailable")
    assert report["results"][4] == "failed: [Errno 101] Network is unreachable"
    assert not escaped


def test_a_dead_zygote_is_an_error_not_a_verdict():
    from swallow_eval.execution import SandboxError

    with Sandbox(LIMITS, workers=1) as sandbox:
        sandbox._process.send_signal(signal.SIGKILL)
        sandbox._process.wait()
        with pytest.raises(SandboxError, match="stopped"):
            sandbox.run(["pass"])


def test_without_namespaces_the_fallback_still_contains(tmp_path):
    """Where the kernel refuses namespaces (a locked-down container), programs still run as their
    own uid (as root) in a fresh folder, sockets are refused and nothing is left running."""
    os.environ["SWALLOW_EVAL_TEST_SECRET"] = "visible?"
    programs = [
        "def add(a, b):\n    return a + b\nassert add(2, 3) == 5",
        "import os\nassert os.listdir('.') == []\nopen('scratch', 'w').write('x')",
        "import posix, time\nif posix.fork() == 0:\n    time.sleep(60)\nassert False",
        "import socket",
        "import os\nassert os.environ.get('SWALLOW_EVAL_TEST_SECRET') is None",
        f"open({str(REPO / 'README.md')!r}, 'a').write('x')",
    ]
    readme = (REPO / "README.md").read_bytes()
    try:
        with Sandbox(LIMITS, workers=2, namespaces=False) as sandbox:
            results = [o.result for o in sandbox.run(programs)]
    finally:
        os.environ.pop("SWALLOW_EVAL_TEST_SECRET")
    assert sandbox.isolation["namespaces"].startswith("unavailable")
    assert results[:3] == ["passed", "passed", "failed: "]
    assert results[3] == "failed: import of socket halted; None in sys.modules"
    assert results[4] == "passed"
    if os.geteuid() == 0:
        assert sandbox.isolation["user"] == "unprivileged uid per worker slot"
        assert results[5] == f"failed: [Errno 13] Permission denied: '{REPO / 'README.md'}'"
        deadline = time.monotonic() + 5  # killed processes may take a moment to be reaped
        while sandbox_processes() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sandbox_processes() == []
    assert (REPO / "README.md").read_bytes() == readme
    assert not list(Path(tempfile.gettempdir()).glob("swallow-eval-exec-*"))
