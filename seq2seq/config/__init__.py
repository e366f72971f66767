"""Configuration: where the configs live and how they are composed (`compose.py`), and the typed
schema every composed config is checked against before any work starts (`schema.py`)."""

from .compose import CONFIG_PACKAGE, CONFIG_PATH, compose_config, load_config_file
from .schema import check_config, check_section

__all__ = ["CONFIG_PACKAGE", "CONFIG_PATH", "check_config", "check_section", "compose_config",
           "load_config_file"]
