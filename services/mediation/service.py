"""Mediation (调解): mediation files, sessions and their paused clock. This first version runs
the backbone only (health, metrics, API document); its domain arrives with the mediation issue."""
from fengqiao.service import BackboneService


class MediationService(BackboneService):
    name = "mediation"
