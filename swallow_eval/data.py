"""Benchmark files: where a run reads them from, how they are downloaded, how rows are parsed.

Every task names the original published files it reads (`DataFile`). A run reads them from
`--data-dir` / `SWALLOW_EVAL_DATA_DIR` (layout `<benchmark>/<file>`, as in shared/data), else from
the download cache when `swallow-eval data download` fetched them, else from the small sample
embedded in the package.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from swallow_eval.errors import UserError

SAMPLE_ROOT = Path(__file__).parent / "sample_data"


@dataclass(frozen=True)
class DataFile:
    """One original published file: its place under the data root and where it was published."""

    path: str  # "<benchmark>/<file>", relative to a data root
    url: str
    sha256: str | None = None
    # Other published copies of the same content (e.g. plain-text copies of an SGML release): a
    # root may hold these instead of the file; `download` fetches only `url`.
    copies: tuple["DataFile", ...] = ()


def cache_home() -> Path:
    return Path(os.environ.get("SWALLOW_EVAL_CACHE_DIR", Path.home() / ".cache" / "swallow-eval"))


def download_root() -> Path:
    return cache_home() / "data"


@dataclass(frozen=True)
class DataRoot:
    """A folder holding benchmark files, and what kind of source it is (for results.json)."""

    root: Path
    kind: str  # "data-dir" | "download-cache" | "embedded-sample"

    def path(self, file: DataFile) -> Path:
        path = self.root / file.path
        if not path.is_file():
            hint = " (run `swallow-eval data download` or pass --data-dir)" if self.kind != "data-dir" else ""
            copies = f" or its copies {', '.join(c.path for c in file.copies)}" if file.copies else ""
            raise UserError(f"missing data file {path}{copies}{hint}")
        return path

    def present(self, file: DataFile) -> tuple[DataFile, ...]:
        """`(file,)` if the root holds it, else its copies if it holds all of them, else ()."""
        if (self.root / file.path).is_file():
            return (file,)
        if file.copies and all((self.root / c.path).is_file() for c in file.copies):
            return file.copies
        return ()

    def has(self, files) -> bool:
        return all(self.present(f) for f in files)


def choose_root(task_name: str, files, data_dir: Path | None) -> DataRoot:
    """The data root a task reads from; see the module docstring for the order."""
    explicit = data_dir or os.environ.get("SWALLOW_EVAL_DATA_DIR")
    if explicit:
        root = Path(explicit)
        if not root.is_dir():
            raise UserError(f"--data-dir {root} is not a directory")
        return DataRoot(root, "data-dir")
    for root in (DataRoot(download_root(), "download-cache"), DataRoot(SAMPLE_ROOT, "embedded-sample")):
        if root.has(files):
            return root
    raise UserError(
        f"task {task_name}: no data found (no embedded sample ships for it); "
        f"run `swallow-eval data download --tasks {task_name}` or pass --data-dir"
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(file: DataFile, dest_root: Path, mirror: str | None = None, timeout: float = 60.0) -> Path:
    """Fetch one file (from its original URL, or `<mirror>/<path>`), verify its sha256, store it."""
    dest = dest_root / file.path
    if dest.is_file() and (file.sha256 is None or file_sha256(dest) == file.sha256):
        return dest
    url = f"{mirror.rstrip('/')}/{file.path}" if mirror else file.url
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False, suffix=".part") as tmp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                shutil.copyfileobj(response, tmp)
        except (urllib.error.URLError, OSError) as exc:
            Path(tmp.name).unlink(missing_ok=True)
            raise UserError(f"download of {url} failed: {exc}") from exc
    got = file_sha256(Path(tmp.name))
    if file.sha256 and got != file.sha256:
        Path(tmp.name).unlink(missing_ok=True)
        raise UserError(f"download of {url}: sha256 {got} does not match the published {file.sha256}")
    os.replace(tmp.name, dest)
    return dest


# ---- readers: each returns (line number, record) pairs so errors can name the row ----------------


@contextmanager
def row_errors(path: Path, line: int):
    """Turn a malformed row's KeyError/ValueError/TypeError into a one-line error naming it."""
    try:
        yield
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise UserError(f"{path}:{line}: malformed row ({type(exc).__name__}: {exc})") from exc


def read_jsonl(path: Path) -> list[tuple[int, dict]]:
    """JSON Lines, gzip-compressed when the name ends in .gz (HumanEval ships so)."""
    rows = []
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                rows.append((line_no, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:{line_no}: not valid JSON ({exc.msg})") from exc
    return rows


def read_json(path: Path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from exc


def read_tsv(path: Path, **kwargs) -> list[tuple[int, list[str]]]:
    return _read_delimited(path, delimiter="\t", **kwargs)


def read_csv(path: Path, **kwargs) -> list[tuple[int, list[str]]]:
    return _read_delimited(path, delimiter=",", **kwargs)


def _read_delimited(path: Path, encoding: str = "utf-8", newline: str | None = "",
                    **kwargs) -> list[tuple[int, list[str]]]:
    """`newline=None` reads as a reference that opened the file without newline="" did: "\r\n" in a field becomes "\n"."""
    with open(path, encoding=encoding, newline=newline) as handle:
        reader = csv.reader(handle, **kwargs)
        try:
            return [(reader.line_num, row) for row in reader]
        except csv.Error as exc:
            raise UserError(f"{path}:{reader.line_num}: malformed row ({exc})") from exc


def read_parquet(path: Path, columns: list[str]) -> list[tuple[int, dict]]:
    """Rows of a Parquet file (Hugging Face's published format) as (row number from 1, record)."""
    import pyarrow.parquet as pq
    from pyarrow import ArrowException

    try:
        table = pq.read_table(path, columns=columns)
    except (ArrowException, OSError) as exc:
        reason = str(exc).splitlines()[0]
        raise UserError(f"{path}: not a readable Parquet file with columns {', '.join(columns)} ({reason})") from exc
    return list(enumerate(table.to_pylist(), 1))
