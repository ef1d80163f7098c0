from typing import Optional

class BoaError(ValueError): ...

def compress(
    data: bytes, model: Optional[str] = None, threads: Optional[int] = None, level: Optional[int] = None
) -> bytes: ...
def decompress(
    blob: bytes,
    model: Optional[str] = None,
    threads: Optional[int] = None,
    max_output: Optional[int] = None,
) -> bytes: ...
def verify(blob: bytes, model: Optional[str] = None, threads: Optional[int] = None) -> None: ...
def info(blob: bytes) -> dict: ...
def info_members(blob: bytes) -> list: ...
def compress_file(
    src: str,
    dst: str,
    model: Optional[str] = None,
    threads: Optional[int] = None,
    overwrite: bool = False,
    level: Optional[int] = None,
) -> int: ...
def decompress_file(
    src: str, dst: str, model: Optional[str] = None, threads: Optional[int] = None, overwrite: bool = False
) -> int: ...
FORMAT_VERSION_NEWEST: int

def default_fingerprint() -> str: ...
