"""Where labels meet predictions: delayed labels joined by ``(model, event_id)`` in bounded memory.

Reading order: :mod:`~monitor.join.label_join` (the :class:`LabelJoin` and its counters), then
:mod:`~monitor.join.keyed_ring` (the bounded store of waiting predictions and early labels).
Labels are co-partitioned with their predictions by event id, so the join runs per source
partition, in stage 1.
"""
