"""Where results go: every report record the pipeline emits reaches each sink in order.

Reading order: :mod:`~monitor.sinks.report` (the JSON Lines report: the records and their fixed
field order), :mod:`~monitor.sinks.metrics` (the latest windows as Prometheus series),
:mod:`~monitor.sinks.openmetrics` (the same series stamped in the past, for a backfill),
:mod:`~monitor.sinks.alertmanager` (level transitions posted to Alertmanager) and
:mod:`~monitor.sinks.kafka_topics` (dead letters and alert transitions written back to Kafka).
"""
