"""Where results go: every record the pipeline emits reaches each sink in order.

Reading order: :mod:`~monitor.sinks.base` (the contract: typed window and alert records, each
with its report object, and the ``Sink`` protocol), :mod:`~monitor.sinks.report` (the JSON Lines
report: the records built, their fixed field order, read back; the reference for
:mod:`~monitor.sinks.window_lines`, which writes the lines of windows closing together from
their arrays), :mod:`~monitor.sinks.report_merge` (the union of several processes' report
files, ``driftwarden report merge``), :mod:`~monitor.sinks.memory`
(the in-memory sink tests use), :mod:`~monitor.sinks.latest_windows` (the metrics store: latest
window per key), :mod:`~monitor.sinks.metric_families` (the metric catalogue) and
:mod:`~monitor.sinks.collector` (the store as Prometheus series at each scrape),
:mod:`~monitor.sinks.openmetrics` (the same series stamped in the past, for a backfill),
:mod:`~monitor.sinks.alertmanager` (level transitions posted to Alertmanager) and
:mod:`~monitor.sinks.kafka_topics` (dead letters and alert transitions written back to Kafka).
"""
