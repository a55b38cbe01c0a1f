"""The hand-off from stage 1 (per source partition) to stage 2 (per model).

Reading order: :mod:`~monitor.exchange.records` (what stage 1 sends: partials of counts and
detector values, and progress marks, as deterministic bytes), :mod:`~monitor.exchange.handover`
(the source counters' hand-over as partials and marks), :mod:`~monitor.exchange.completeness`
(stage 2's watermark: the windows every source partition has passed, from their marks),
:mod:`~monitor.exchange.open_windows` (stage 2's merged windows, closed when complete),
:mod:`~monitor.exchange.local` (the two stages joined in memory: one process, every replay and
today's daemon). Through Kafka: :mod:`~monitor.exchange.topics` (the internal topics, created or
checked at start), :mod:`~monitor.exchange.partitioner` (the exchange partition of a model:
Kafka's default partitioner), :mod:`~monitor.exchange.commit_cycle` (one stage's transaction:
records and consumed offsets, all or nothing, failures as one typed error),
:mod:`~monitor.exchange.publish` (stage 1's partials and marks of a cycle into the exchange),
:mod:`~monitor.exchange.changelog` (a stage's state as chunked snapshots on a compacted topic,
and their restore), :mod:`~monitor.exchange.reader` (stage 2's input, decoded in partition and
offset order), :mod:`~monitor.exchange.ledger` (each partial counted once, copies recognised by
their offsets) and :mod:`~monitor.exchange.partitioned_windows` (stage 2's open windows per
exchange partition it owns). The daemon does not use the Kafka path yet.
The design the rest of this folder follows is docs/scale-out.md.
"""
