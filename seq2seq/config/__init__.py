"""Configuration: where the configs live and how they are composed (`compose.py`), the typed
schema of every config (`schema.py`), and the checks against it before any work starts
(`checks.py`)."""

from .checks import check_config, check_section
from .compose import CONFIG_PACKAGE, CONFIG_PATH, compose_config, load_config_file

__all__ = ["CONFIG_PACKAGE", "CONFIG_PATH", "check_config", "check_section", "compose_config",
           "load_config_file"]
