import dagster as dg

from dagster_project.resources import KCSettings
from training.registry import Tracking


class MLflowTracking(dg.ConfigurableResource):
    """MLflow tracking + registry: kc.yaml's `mlflow.tracking_uri`, else sqlite under $KC_HOME."""

    kc_settings: KCSettings

    def activate(self) -> Tracking:
        settings = self.kc_settings.load()
        if settings.mlflow.tracking_uri:
            tracking = Tracking(settings.mlflow.tracking_uri,
                                (settings.kc_home / "mlartifacts").as_uri(),
                                settings.mlflow.experiment)
        else:
            tracking = Tracking.local(settings.kc_home)
        tracking.activate()
        return tracking
