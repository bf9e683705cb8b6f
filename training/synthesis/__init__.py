"""Question-answer synthesis: static chunks -> facts -> paraphrased QA pairs and study notes.

Works with no language model (`OfflineGenerator`: deterministic extraction + templates) and
with a teacher model behind the same `Generator` interface (`TeacherGenerator`). Entry point:
`synthesize_tenant`; the data contract on its result: `check_drop_rate`.
"""

from training.synthesis.config import SynthesisConfig
from training.synthesis.coverage import CoverageReport, coverage_against_questions
from training.synthesis.extract import extract_facts
from training.synthesis.generator import Generator, OfflineGenerator
from training.synthesis.models import Chunk, ChunkSynthesis, Fact, Note, QAPair
from training.synthesis.pipeline import synthesize_tenant
from training.synthesis.report import SynthesisReport, check_drop_rate
from training.synthesis.teacher import (
    HFPipelineBackend,
    OpenAIChatBackend,
    TeacherConfig,
    TeacherGenerator,
)

__all__ = [
    "Chunk",
    "ChunkSynthesis",
    "CoverageReport",
    "Fact",
    "Generator",
    "HFPipelineBackend",
    "Note",
    "OfflineGenerator",
    "OpenAIChatBackend",
    "QAPair",
    "SynthesisConfig",
    "SynthesisReport",
    "TeacherConfig",
    "TeacherGenerator",
    "check_drop_rate",
    "coverage_against_questions",
    "extract_facts",
    "synthesize_tenant",
]
