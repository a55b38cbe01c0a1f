"""A group member whose join, once the broker answered it, always ends in an assignment.

kafka-python 3.0.12 runs a join (JoinGroup, then SyncGroup) as a task on its IO thread, and a
``poll`` waits for that task at most its own timeout. A poll that gives up leaves the task
running for the next poll to await, but the next poll only awaits a task still in flight:

- a task that completed in between is thrown away and a new JoinGroup sent. The broker answers
  a follower's with the same generation, so a follower can loop on join after join; a leader's
  starts a new rebalance, and the other members are reassigned at their next heartbeat.
- if the group no longer asks for a join by then (a leader's own assignment updates the
  metadata snapshot that asked for it), the next poll does not look at the task at all: the
  member stays rebalancing, heartbeats off, partitions revoked, until the broker expels it after
  the session timeout.

Nothing awaits a join while the daemon's loop works between polls, nor while its paced poll
sleeps (:class:`~monitor.sources.kafka.PacedConsumer`): under load both last long enough for
the SyncGroup answer to arrive in between. :class:`SettlingCoordinator` applies a completed
join's assignment at the next poll, as if that poll had awaited it, and counts a join the member
began as needed until then, whether or not the group still asks for one.
"""

from __future__ import annotations

from typing import Any

import structlog
from kafka.coordinator.consumer import ConsumerCoordinator
from kafka.structs import MemberState

log = structlog.get_logger()


class SettlingCoordinator(ConsumerCoordinator):  # type: ignore[misc]
    """kafka-python's consumer coordinator; a join sent by one poll is finished by the next."""

    _join_task: Any  # kafka-python's: the join task a poll left running, a Future

    def need_rejoin(self) -> bool:
        """True also while a join this member began is unfinished: kafka-python asks only whether
        the group needs one, and the join itself may have answered no by now."""
        return bool(self.rejoining or super().need_rejoin())

    async def join_group_async(self, timeout_ms: int | None = None) -> Any:
        task = self._join_task
        if task is not None and task.succeeded():  # answered while no poll waited
            self._join_task = None
            with self._lock:
                self.rejoining = False
                self.rejoin_needed = False
                self.state = MemberState.STABLE
                self._enable_heartbeat()
            generation = self._generation
            log.info("group join answered between polls", generation=generation.generation_id)
            await self._on_join_complete_async(
                generation.generation_id, generation.member_id, generation.protocol, task.value
            )
            return True
        return await super().join_group_async(timeout_ms)
