"""The drivers: loops that feed a source to the pipeline and keep the process alive.

Reading order: :mod:`~monitor.runtime.replay` (a file or topic slice, start to end),
:mod:`~monitor.runtime.guarded` (replay's last line of defence: in-memory snapshots, the culprit
of a failing batch rejected), :mod:`~monitor.runtime.daemon` (``driftwarden run``: a consumer
group, checkpoints, rebalances, broker outages) and :mod:`~monitor.runtime.http` (the daemon's
``/metrics``, ``/healthz``, ``/readyz`` and ``/status``).
"""
