"""What several test files share, so that no test imports another.

Data:

- :mod:`tests.support.builders` — seeded training data and event batches of model "m";
- :mod:`tests.support.replay_stream` — the replay tests' drifting stream, as JSON Lines or rows;
- :mod:`tests.support.state_stream` — a stream that exercises every piece of pipeline state;
- :mod:`tests.support.label_stream` — predictions and their delayed labels as separate events;
- :mod:`tests.support.decoding` — the contract's example event and a column-by-column comparison;
- :mod:`tests.support.both_paths` — messages for comparing the decoder's two paths;
- :mod:`tests.support.malformed` — 25 kinds of bad message, each with its reject reason;
- :mod:`tests.support.evidently` — Evidently's PSI rules written out in numpy.

Real parts:

- :mod:`tests.support.ports` — free loopback ports for the servers a test starts;
- :mod:`tests.support.kafka` — a real Kafka broker (``deploy/local/kafka.sh``), topics on it;
- :mod:`tests.support.daemon` — the live daemon as a process: its config, start, watch, stop;
- :mod:`tests.support.prometheus` — Prometheus, Alertmanager and a webhook receiver as processes;
- :mod:`tests.support.dashboard` — the chart's Grafana dashboard as data.

Seams and twins: :mod:`tests.support.faults` injects a failure for one message (also into a
real process, ``python -m tests.support.faults``); :mod:`tests.support.memory_consumer` is an
in-memory consumer-group member for the daemon's consumer seam.

The fixtures built from these (``baseline``, ``kafka_bootstrap``, ``own_broker``, ``topic``,
``uninterrupted``) are in ``tests/conftest.py``.
"""
