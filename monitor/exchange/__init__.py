"""The hand-off from stage 1 (per source partition) to stage 2 (per model) of a scaled-out group.

Reading order: :mod:`~monitor.exchange.topics` (the internal topics, created or checked at
start). The design the rest of this folder follows is docs/scale-out.md.
"""
