"""Where raw events come from, one module per kind of source (``files`` for exported files).

A source yields :class:`~monitor.batches.RawRecords` (messages still to decode) or
``pyarrow.RecordBatch`` rows (flat files), in order, with the partitions and offsets that let
the pipeline checkpoint its position. ``group_join`` mends the Kafka client's consumer-group
join for the daemon's group member (``kafka.PacedConsumer``), ``resuming_fetcher`` the fetcher
of every consumer, so that a partition paused and resumed delivers again; ``label_pacing``
pauses the label partitions read too far ahead of their predictions.
"""
