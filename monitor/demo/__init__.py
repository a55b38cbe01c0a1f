"""The demos: a synthetic model with known incidents, replayed from a file or run through Kafka.

Reading order: :mod:`~monitor.demo.data` (the training set, the prediction stream and its delayed
labels), :mod:`~monitor.demo.scenario` (what both demos share: baseline, settings, alert
timeline, self-check), :mod:`~monitor.demo.broker` (a broker to run against) and
:mod:`~monitor.demo.live` (``driftwarden demo``: the stream through Kafka and the live daemon).
"""
