"""boatrain: trains the float byte-level Mamba model of boa-det (BOA Constrictor architecture)."""

from .model import BoaModel, ModelConfig, default_device  # noqa: F401
from .quant import QuantConfig  # noqa: F401

__all__ = ["BoaModel", "ModelConfig", "QuantConfig", "default_device"]
