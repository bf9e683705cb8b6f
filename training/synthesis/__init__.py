"""Question-answer synthesis: static chunks -> facts -> paraphrased QA pairs and study notes.

Works with no language model (`OfflineGenerator`: deterministic extraction + templates) and
with a teacher model behind the same `Generator` interface (`TeacherGenerator`). Entry point:
`synthesize_tenant`; the data contracts on its result: `check_drop_rate` and, where a model
writes questions as people ask them (`training.synthesis.natural`), `check_natural_yield`.
"""

from training.synthesis.config import SynthesisConfig
from training.synthesis.coverage import CoverageReport, coverage_against_questions
from training.synthesis.extract import extract_facts
from training.synthesis.generator import Generator, OfflineGenerator
from training.synthesis.models import Chunk, ChunkSynthesis, Fact, Note, QAPair
from training.synthesis.natural import NaturalPlan, NaturalQuestionConfig
from training.synthesis.pipeline import synthesize_tenant
from training.synthesis.report import (
    SynthesisReport,
    check_drop_rate,
    check_natural_yield,
    synthesis_checks,
)
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
    "NaturalPlan",
    "NaturalQuestionConfig",
    "Note",
    "OfflineGenerator",
    "OpenAIChatBackend",
    "QAPair",
    "SynthesisConfig",
    "SynthesisReport",
    "TeacherConfig",
    "TeacherGenerator",
    "check_drop_rate",
    "check_natural_yield",
    "coverage_against_questions",
    "extract_facts",
    "synthesis_checks",
    "synthesize_tenant",
]
