"""A nameko timer whose interval comes from the service's configuration, so tests and
operators can tune how often sweeps run without touching code."""
from nameko.timer import Timer


class ConfiguredTimer(Timer):
    """`@every("DEADLINE_SWEEP_SECONDS", default=5)`"""

    def __init__(self, config_key, default, **kwargs):
        super().__init__(interval=default, **kwargs)
        self.config_key = config_key

    def setup(self):
        self.interval = float(self.container.config.get(self.config_key, self.interval))
        super().setup()


every = ConfiguredTimer.decorator
