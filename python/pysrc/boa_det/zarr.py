"""A Zarr 3 codec: ``compressors=[boa_det.zarr.Boa()]``, registered as
``"boa_det"`` when this module is imported (as ``numcodecs`` registers its
codecs), so that arrays written with it open again in any process that has
imported it. Each chunk is one archive, byte-identical to
``boa_det.compress`` of the chunk's bytes. Needs zarr 3. (Zarr 2 takes the
numcodecs codec, ``boa_det.numcodecs.Boa``.)

    >>> import zarr, boa_det.zarr
    >>> z = zarr.create_array("jets.zarr", shape=(n, 6), chunks=(65536, 6), dtype="f4",
    ...                       compressors=[boa_det.zarr.Boa()])
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Optional

from zarr.abc.codec import BytesBytesCodec
from zarr.core.buffer.cpu import as_numpy_array_wrapper
from zarr.core.common import parse_named_configuration
from zarr.registry import register_codec

from . import compress, decompress

__all__ = ["Boa"]


@dataclass(frozen=True)
class Boa(BytesBytesCodec):
    """boa-det as a Zarr 3 bytes-to-bytes codec. ``model``: a model file for
    encoding (archives name their model, so decoding needs none)."""

    is_fixed_size = False
    model: Optional[str] = None

    def __init__(self, *, model: Optional[str] = None) -> None:
        object.__setattr__(self, "model", model)

    @classmethod
    def from_dict(cls, data: Any) -> "Boa":
        _, configuration = parse_named_configuration(data, "boa_det", require_configuration=False)
        return cls(**(configuration or {}))

    def to_dict(self) -> dict:
        configuration = {} if self.model is None else {"model": self.model}
        return {"name": "boa_det", "configuration": configuration}

    async def _encode_single(self, chunk_bytes: Any, chunk_spec: Any) -> Any:
        return await asyncio.to_thread(
            as_numpy_array_wrapper, lambda a: compress(a, model=self.model), chunk_bytes, chunk_spec.prototype
        )

    async def _decode_single(self, chunk_bytes: Any, chunk_spec: Any) -> Any:
        return await asyncio.to_thread(
            as_numpy_array_wrapper, lambda a: decompress(a, model=self.model), chunk_bytes, chunk_spec.prototype
        )

    def compute_encoded_size(self, _input_byte_length: int, _chunk_spec: Any) -> int:
        raise NotImplementedError


register_codec("boa_det", Boa)
