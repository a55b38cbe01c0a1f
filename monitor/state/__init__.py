"""Persistence only: the pipeline's state as data, and the checkpoint file that holds it.

Reading order: :mod:`~monitor.state.snapshot` (everything that shapes the pipeline's future
output, to and from plain data) and :mod:`~monitor.state.checkpoint` (a snapshot and the source
offsets it covers, in one file replaced atomically); both, and the scale-out's stage-2
snapshots, are made of :mod:`~monitor.state.parts`.
"""
