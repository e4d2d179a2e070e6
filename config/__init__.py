"""Typed configuration: one model for the whole app, one YAML file per profile in this folder."""

from config.app import AppConfig
from config.loader import ConfigError, available_profiles, load_config

__all__ = ["AppConfig", "ConfigError", "available_profiles", "load_config"]
