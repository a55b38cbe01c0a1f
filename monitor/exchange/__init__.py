"""The hand-off from stage 1 (per source partition) to stage 2 (per model) of a scaled-out group.

Reading order: :mod:`~monitor.exchange.topics` (the internal topics, created or checked at
start), :mod:`~monitor.exchange.records` (what stage 1 sends: partials of counts and detector
values, and progress marks, as deterministic bytes), :mod:`~monitor.exchange.completeness`
(stage 2's watermark: the windows every source partition has passed, from their marks) and
:mod:`~monitor.exchange.ledger` (each partial counted once, copies recognised by their offsets).
The design the rest of this folder follows is docs/scale-out.md.
"""
