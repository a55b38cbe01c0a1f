"""The hand-off from stage 1 (per source partition) to stage 2 (per model).

Reading order: :mod:`~monitor.exchange.records` (what stage 1 sends: partials of counts and
detector values, and progress marks, as deterministic bytes), :mod:`~monitor.exchange.handover`
(a window counter's hand-over as partials and marks), :mod:`~monitor.exchange.completeness`
(stage 2's watermark: the windows every source partition has passed, from their marks),
:mod:`~monitor.exchange.open_windows` (stage 2's merged windows, closed when complete),
:mod:`~monitor.exchange.local` (the two stages joined in memory: one process, every replay and
today's daemon), :mod:`~monitor.exchange.ledger` (each partial counted once, copies recognised
by their offsets) and :mod:`~monitor.exchange.topics` (the internal topics of a scaled-out
group, created or checked at start; not used by the daemon yet).
The design the rest of this folder follows is docs/scale-out.md.
"""
