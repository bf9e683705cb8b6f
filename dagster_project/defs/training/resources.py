"""The QA generator: the offline one by default, a teacher LLM when kc.yaml configures one."""

import dagster as dg

from dagster_project.resources import KCSettings
from training.synthesis import Generator, OfflineGenerator, TeacherGenerator


class QAGenerator(dg.ConfigurableResource):
    """Reads `training.synthesis` and `training.teacher` from kc.yaml. A teacher's API key is
    read from the environment variable the config names, never from the file."""

    kc_settings: KCSettings

    def get(self) -> Generator:
        training = self.kc_settings.load().training
        synthesis = training.synthesis_config()
        teacher = training.teacher_config()
        if teacher is None:
            return OfflineGenerator(synthesis)
        return TeacherGenerator(teacher, synthesis=synthesis)
