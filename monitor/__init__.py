"""driftwarden's daemon and replay: one folder per stage, in the order an event passes them.

Stage 1, per source partition (whatever Kafka assigns a process):

- :mod:`monitor.sources` — where raw messages come from (Kafka topics, exported files);
- :mod:`monitor.decode` — a message becomes columnar event data, or a reject with a reason;
- :mod:`monitor.join` — delayed labels meet their predictions by ``(model, event_id)``;
- :mod:`monitor.window` — event-time windows of exact integer slot counts, and late events.

Between them, :mod:`monitor.exchange` — stage 1's counts handed to stage 2 as partials and
progress marks; stage 2 merges them and closes the windows every source partition has passed.
In one process the hand-over is in memory; through an internal Kafka topic when the stages run
on several replicas (docs/scale-out.md; that transport is not wired in yet).

Stage 2, per model:

- :mod:`monitor.evaluate` — a closed window's scores, checks, alert levels and online detectors;
- :mod:`monitor.sinks` — where results go: the report, ``/metrics``, Alertmanager, Kafka topics.

Around them: :mod:`monitor.stage_one` and :mod:`monitor.stage_two` chain each stage's folders,
:mod:`monitor.pipeline` joins the two in memory (replay, one daemon), :mod:`monitor.app` builds
the pipeline and its sinks (the one composition root), :mod:`monitor.state` persists the
pipeline's state, :mod:`monitor.runtime` holds the drivers that only loop (``run``,
``replay``, the HTTP endpoints), :mod:`monitor.demo` the demos, and :mod:`monitor.cli` the
command line. Shared by
all: :mod:`monitor.config` (the settings; :mod:`monitor.config_reference` renders their
reference, :mod:`monitor.defaults` holds what ``--help`` needs before anything heavy loads),
:mod:`monitor.batches` and :mod:`monitor.columns` (what stages pass each other),
:mod:`monitor.packed` (per-event arrays in a snapshot, as bytes), :mod:`monitor.errors`,
:mod:`monitor.logs` and :mod:`monitor.allocator` (memory allocators tuned at start).

A stage imports the stages before it, never the ones after it.
"""
