"""What the harness and the zygote both need: the limits and the programs' environment.

Standard library only: the zygote loads this package by its path (see __main__.py).
"""

from __future__ import annotations

from dataclasses import dataclass

# The program's environment: nothing inherited from the harness (API keys, tokens).
CLEAN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp", "TMPDIR": "/tmp"}


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
