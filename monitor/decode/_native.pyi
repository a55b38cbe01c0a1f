"""Types of the native JSON column reader (``monitor/decode/native``, Rust)."""

from collections.abc import Sequence

#: (kinds, numbers, ints, text offsets, text data, (row, class, probability) entries)
RawColumn = tuple[bytes, bytes, bytes, bytes, bytes, list[tuple[int, str, float]]]

ABSENT: int
INT: int
FLOAT: int
TEXT: int
TRUE: int
FALSE: int
OBJECT: int

class Reader:
    def __init__(
        self,
        columns: Sequence[tuple[Sequence[str], bool]],
        containers: Sequence[tuple[Sequence[str], bool]],
    ) -> None: ...
    def read(
        self, messages: list[bytes], threads: int
    ) -> tuple[list[RawColumn], dict[str, bytes]] | None: ...
