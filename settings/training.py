"""kc.yaml's `training` section: a compile's budget and checks, and the sections the training
library reads (synthesis, teacher, reading, natural, sft with its LoRA, grpo), each a pydantic
model whose keys are the library class's fields (a test keeps them in step)."""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)


class _Section(BaseModel):
    """A section the training library reads: its keys are the fields of the library class the
    docstring names, typed here so a misspelt key or a wrong type fails when kc.yaml is loaded.
    A key left out (or null) takes the library's default, and the library checks the values
    (`training.config.check`, right after loading): defaults and ranges live in one place.
    Dumped, a section holds the keys given and nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_serializer(mode="wrap")
    def _given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class SynthesisSection(_Section):
    """`training.synthesis`: training.synthesis.SynthesisConfig (paraphrases per fact, ...)."""

    paraphrases_per_fact: int | None = None
    heldout_families: int | None = None
    notes_per_fact: int | None = None
    max_pairs_per_chunk: int | None = None
    max_drop_share: float | None = None
    max_spans_per_clause: int | None = None
    max_answer_words: int | None = None
    min_answer_overlap: float | None = None
    min_train_forms: int | None = None
    seed: int | None = None


class TeacherSection(_Section):
    """`training.teacher`: training.synthesis.TeacherConfig (an endpoint or a local model)."""

    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = Field(None, pattern=r"^[A-Z_][A-Z0-9_]*$", description="the "
                                    "NAME of the environment variable holding the key")
    local_model_path: str | None = None
    timeout_s: float | None = None
    max_retries: int | None = None
    backoff_s: float | None = None
    max_backoff_s: float | None = None
    requests_per_minute: float | None = None
    temperature: float | None = None
    max_facts_per_chunk: int | None = None
    json_mode: bool | None = None
    fallback_offline: bool | None = None


class ReadingSection(_Section):
    """`training.reading`: training.reading.ReadingSettings (reading examples: the fact's chunk
    among distractors, mixed into SFT)."""

    share: float | None = None
    distractors: int | None = None
    absent_share: float | None = None
    max_passage_chars: int | None = None
    seed: int | None = None


class NaturalSection(_Section):
    """`training.natural`: training.synthesis.natural.NaturalQuestionConfig (questions written
    by a model, the base, the teacher or a local one, as people ask them)."""

    enabled: bool | None = None
    writer: str | None = Field(None, description="'base', 'teacher' or a model folder")
    max_facts: int | None = None
    min_share_kept: float | None = None
    styles: list[str] | None = None
    samples_per_style: int | None = None
    max_new_tokens: int | None = None
    temperature: float | None = None
    batch_size: int | None = None
    near_duplicate_jaccard: float | None = None
    verify_by_reading: bool | None = None


class LoraSection(_Section):
    """`training.sft.lora`: peft's LoraConfig (defaults: training.lora.default_lora_config). The
    common fields are typed here; any other LoraConfig field is passed through to peft, which
    checks it when `training.config.check` builds the LoraConfig."""

    model_config = ConfigDict(extra="allow", frozen=True)

    r: int | None = Field(None, description="rank")
    lora_alpha: int | None = Field(None, description="scaling numerator (alpha / r)")
    lora_dropout: float | None = None
    target_modules: str | list[str] | None = Field(
        None, description="'all-linear' (every linear layer but the output embedding) or names")
    layers_to_transform: list[int] | None = Field(
        None, description="decoder layers given adapters (null: all)")
    use_rslora: bool | None = None
    use_dora: bool | None = None


# kc.yaml's flat LoRA keys before `training.sft.lora` (issue 21): named in the error.
_MOVED_LORA_KEYS = {"lora_r": "r", "lora_alpha": "lora_alpha", "lora_dropout": "lora_dropout",
                    "target_modules": "target_modules",
                    "layers_to_transform": "layers_to_transform"}


class SFTSection(_Section):
    """`training.sft`: training.sft.SFTSettings."""

    trainer: dict[str, Any] | None = Field(
        None, description="fields of trl's SFTConfig (epochs, learning rate, ...), checked by trl")
    lora: LoraSection | None = None
    replay_share: float | None = None
    curve_questions: int | None = None
    eval_questions: int | None = None
    objective: str | None = Field(None, description="'sft', 'distill' or 'both'")
    distill_top_k: int | None = None
    distill_weight: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _lora_keys_moved(cls, data: Any) -> Any:
        moved = [k for k in _MOVED_LORA_KEYS if isinstance(data, dict) and k in data]
        if moved:
            raise ValueError("LoRA keys moved under `lora:` (peft's LoraConfig names): "
                             + ", ".join(f"{k} -> lora.{_MOVED_LORA_KEYS[k]}" for k in moved))
        return data


class GRPOSection(_Section):
    """`training.grpo`: training.grpo.GRPOSettings."""

    trainer: dict[str, Any] | None = Field(
        None, description="fields of trl's GRPOConfig (steps, generations, ...), checked by trl")
    eval_questions: int | None = None


class TrainingSettings(BaseModel):
    """`training`: the budget and checks of a compile, and the library's sections."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sft: SFTSection = SFTSection()
    grpo: GRPOSection | None = Field(GRPOSection(), description="null skips GRPO")
    # The default budget keeps a compile of a repository of ~1,000 chunks near half an hour on
    # 2 CPU cores with SmolLM2-135M (~75-130 training tokens/s a thread): ~50k tokens an epoch.
    # Half of it QA, half rewrites of the same facts: at equal synthetic tokens the learning
    # curve (README, "Learning curve") measured rewrites 1:1 ahead of QA alone at 1x and 3x.
    max_train_pairs: int | None = Field(300, ge=1, description="cap on QA pairs per tenant "
                                        "(whole facts, seeded; null: all)")
    rewrites_per_pair: float = Field(
        1.0, ge=0, description="rewrites of the trained facts (study notes: entity-relation "
        "texts and restatements) per question-answer pair; 1.0 mixes them 1:1 (by count), "
        "0 trains on QA alone")
    max_notes: int | None = Field(None, ge=0, description="cap on those rewrites (null: none)")
    max_pairs_per_fact: int | None = Field(
        3, ge=1, description="phrasings kept per fact (seeded): a token budget then buys "
        "more facts instead of more repeats")
    min_train_accuracy: float = Field(0.3, ge=0, le=1, description="asset check threshold")
    max_adapter_mb: float = Field(50.0, gt=0)
    parallel_tenants: int = Field(
        1, ge=1, description="tenants trained and evaluated side by side, each in its own "
        "process (`kc run`); 2 suits a 2-core machine with torch_threads 1")
    torch_threads: int | None = Field(
        None, ge=1, description="intra-op CPU threads for training and evaluation (null: "
        "torch's default, every core). With tenants side by side (parallel_tenants), one each: "
        "on a CPU shared with other work one thread beat two by 5x here")
    synthesis: SynthesisSection = SynthesisSection()
    teacher: TeacherSection | None = Field(None, description="absent: the offline generator")
    reading: ReadingSection = ReadingSection()
    natural: NaturalSection = NaturalSection()
