"""A fetcher whose paused partitions deliver again once resumed.

kafka-python 3.0.12 parks what it had fetched and parsed for a partition when the partition is
paused (KAFKA-7548: ``_paused_partition_records``), and puts it back into its one in-line slot
(``_next_partition_records``) after the resume, but only while that slot is ``None``. The slot
keeps the last partition's records once they are all handed out: drained, so false, but not
``None``. From then on the parked records never come back, and the partition is never fetched
again either (a partition with parked records is not fetched): a resumed partition stalls for
good. Seen with two partitions: one paused after a poll that took part of its fetch, the other
read to its end, then the first resumed: it delivered nothing more
(``tests/test_resuming_fetcher.py``).

:class:`ResumingFetcher` empties a drained slot before each drain, which changes nothing else:
a drained slot and an empty one both hold no records, and neither keeps its partition from
being fetched.
"""

from __future__ import annotations

from typing import Any

from kafka.consumer.fetcher import Fetcher


class ResumingFetcher(Fetcher):  # type: ignore[misc]
    """kafka-python's fetcher; a resumed partition's parked records are handed out again."""

    _next_partition_records: Any  # kafka-python's in-line slot: a PartitionRecords or None

    def fetched_records(self, max_records: int | None = None, update_offsets: bool = True) -> Any:
        if self._next_partition_records is not None and not self._next_partition_records:
            self._next_partition_records = None  # drained: free for a resumed partition's records
        return super().fetched_records(max_records, update_offsets)
