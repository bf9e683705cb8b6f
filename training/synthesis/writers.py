"""The models that write questions (`QuestionWriter`) and check them (`Reader`) for
`training.synthesis.natural`: a local Hugging Face causal LM, by default the base itself, or an
OpenAI-compatible endpoint (the optional teacher)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from training.synthesis.natural import NaturalQuestionConfig, Reader


class LocalQuestionWriter:
    """A local Hugging Face causal LM (the base by default) continuing the few-shot prompts."""

    def __init__(self, model: Any, tokenizer: Any, model_id: str,
                 config: NaturalQuestionConfig, seed: int = 0) -> None:
        self.model, self.tokenizer, self.config, self.seed = model, tokenizer, config, seed
        self.writer_id = f"local:{model_id}"

    def write(self, prompts: Sequence[str], n: int) -> list[list[str]]:
        import torch

        tok = self.tokenizer
        side, tok.padding_side = tok.padding_side, "left"
        try:
            enc = tok(list(prompts), return_tensors="pt", padding=True)
        finally:
            tok.padding_side = side
        torch.manual_seed(self.seed + len(prompts))
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                out = self.model.generate(
                    **enc, do_sample=True, temperature=self.config.temperature, top_p=0.95,
                    num_return_sequences=n, max_new_tokens=self.config.max_new_tokens,
                    pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        finally:
            self.model.train(was_training)
        texts = tok.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        return [texts[i * n:(i + 1) * n] for i in range(len(prompts))]


class EndpointQuestionWriter:
    """The optional teacher (an OpenAI-compatible endpoint or a local model behind
    `training.synthesis.teacher.ChatBackend`) writing the questions, one request each."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.writer_id = f"teacher:{backend.teacher_id}"

    def write(self, prompts: Sequence[str], n: int) -> list[list[str]]:
        system = ("Continue the pattern: write one question a colleague would ask whose answer "
                  "is the given Answer, without giving the answer away. Reply with the question "
                  "only.")
        return [[self.backend.complete([{"role": "system", "content": system},
                                        {"role": "user", "content": prompt}])
                 for _ in range(n)] for prompt in prompts]


def local_reader(model: Any, tokenizer: Any, batch_size: int = 16) -> Reader:
    """The round-trip check: the model answers each question with only its evidence shown."""
    from training.generate import answer

    def read(questions: Sequence[str], evidence: Sequence[str]) -> list[str]:
        return answer(model, tokenizer, list(questions), [[e] for e in evidence],
                      max_new_tokens=16, batch_size=batch_size)

    return read
