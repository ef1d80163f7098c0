"""A numcodecs codec (Zarr 2's ``compressor=``, and anything else that takes
numcodecs codecs), registered as ``"boa_det"`` when this module is imported.

    >>> from boa_det.numcodecs import Boa
    >>> codec = Boa()                  # or numcodecs.get_codec({"id": "boa_det"})
    >>> codec.decode(codec.encode(arr))

Archives carry their model's fingerprint, so decoding needs no parameters;
``model`` (a model file path) is only for encoding with a non-default model,
and is recorded in the codec's configuration.
"""

from __future__ import annotations

from typing import Any, Optional

from numcodecs.abc import Codec
from numcodecs.compat import ensure_contiguous_ndarray, ndarray_copy
from numcodecs.registry import register_codec

from . import compress, decompress

__all__ = ["Boa"]


class Boa(Codec):
    codec_id = "boa_det"

    def __init__(self, model: Optional[str] = None, threads: Optional[int] = None):
        self.model = model
        self.threads = threads

    def encode(self, buf: Any) -> bytes:
        return compress(ensure_contiguous_ndarray(buf), model=self.model, threads=self.threads)

    def decode(self, buf: Any, out: Any = None) -> Any:
        raw = decompress(ensure_contiguous_ndarray(buf), model=self.model, threads=self.threads)
        return ndarray_copy(raw, out)

    def get_config(self) -> dict:
        return {"id": self.codec_id, "model": self.model, "threads": self.threads}


register_codec(Boa)
