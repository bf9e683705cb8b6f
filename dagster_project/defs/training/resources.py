"""The QA generator: the offline one by default, a teacher LLM when kc.yaml configures one."""

import dagster as dg

from dagster_project.resources import KCSettings
from training.config import synthesis_config, teacher_config
from training.synthesis import Generator, OfflineGenerator, TeacherGenerator


class QAGenerator(dg.ConfigurableResource):
    """Reads `training.synthesis` and `training.teacher` from kc.yaml. A teacher's API key is
    read from the environment variable the config names, never from the file."""

    kc_settings: KCSettings

    def get(self) -> Generator:
        settings = self.kc_settings.load()
        synthesis = synthesis_config(settings)
        teacher = teacher_config(settings)
        if teacher is None:
            return OfflineGenerator(synthesis)
        return TeacherGenerator(teacher, synthesis=synthesis)
