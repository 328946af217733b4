"""Intake's own dependency: the vault that seals petitioners' personal data."""
from nameko.extensions import DependencyProvider

from services.intake.personal_data import Vault


class PersonalDataVault(DependencyProvider):
    def setup(self):
        config = self.container.config
        self.vault = Vault(config["PERSONAL_DATA_KEYS"], config["PERSONAL_DATA_HASH_KEY"])

    def get_dependency(self, worker_ctx):
        return self.vault
