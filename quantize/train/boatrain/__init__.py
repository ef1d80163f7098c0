"""boatrain: trains the float byte-level Mamba model of boa-det (BOA Constrictor architecture)."""

import os as _os

# Busy-waiting OpenMP threads collapse throughput (10-20x) when the cores are shared with
# other work; passive waiting costs little when they are not.  Only effective when
# boatrain is imported before torch (as with `python -m boatrain`).
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .model import BoaModel, ModelConfig, default_device  # noqa: F401
from .quant import QuantConfig  # noqa: F401

__all__ = ["BoaModel", "ModelConfig", "QuantConfig", "default_device"]
