"""The last line of defence: when decoding a batch raises, only the messages that raise are lost.

Decoding is pure: it reads a batch and returns events and rejects, and the decoder's only state
(its counts of unknown features and type mismatches) moves after everything that can fail. So a
batch whose decoding raises can be decoded again in halves, recursively, until every message
that raises on its own is found. Each becomes an ``internal_error`` reject whose detail is
``"<ExceptionClass>: <message>"``; the rest come out as the decoded parts between them, in input
order. Events do not depend on which batch they were decoded in (a rejected message never
changes how the others decode), so the parts hold the events the batch would have given
without the failing messages. A batch that decodes costs one call: nothing is copied or checked
per event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from monitor.batches import DecodeResult

#: The reason of a message whose decoding raised.
INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True)
class Failure:
    """A message (its position in the batch) whose decoding raised ``error`` on its own."""

    position: int
    error: Exception

    @property
    def detail(self) -> str:
        """``"<ExceptionClass>: <message>"``, the reject's detail.

        >>> Failure(3, ValueError("bad")).detail
        'ValueError: bad'
        """
        return f"{type(self.error).__name__}: {self.error}"


def decode_isolating(
    decode: Callable[[int, int], DecodeResult], size: int
) -> list[DecodeResult | Failure]:
    """``decode(0, size)``, or when it raises, the decoded parts and the failing messages.

    ``decode(start, stop)`` decodes the messages at positions ``start`` to ``stop - 1`` of the
    batch and must change nothing before it returns. The result lists, in input order, every
    part that decoded and every message that raised on its own.

    >>> def decode(start, stop):  # message 2 cannot be decoded
    ...     if start <= 2 < stop:
    ...         raise ValueError("bad")
    ...     return f"{start}-{stop}"
    >>> decode_isolating(decode, 5)
    ['0-2', Failure(position=2, error=ValueError('bad')), '3-5']
    """
    return _isolating(decode, 0, size)


def _isolating(
    decode: Callable[[int, int], DecodeResult], start: int, stop: int
) -> list[DecodeResult | Failure]:
    """The messages ``start`` to ``stop - 1`` decoded whole, else each half on its own."""
    try:
        return [decode(start, stop)]
    except Exception as error:  # any failure of a pure step: retried on halves
        if stop - start == 1:
            return [Failure(start, error)]
    middle = (start + stop) // 2
    return _isolating(decode, start, middle) + _isolating(decode, middle, stop)
