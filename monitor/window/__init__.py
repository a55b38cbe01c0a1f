"""Where events become windows: event-time tumbling windows of exact integer slot counts.

Reading order: :mod:`~monitor.window.slot_layout` (how one model's events become a flat count
vector), :mod:`~monitor.window.grid` (where windows start and end: the Unix epoch's grid, or
calendar days, ISO weeks and months of a time zone), :mod:`~monitor.window.watermark`
(per-partition event-time progress, which decides late events), :mod:`~monitor.window.value_buffers`
(the per-event values the online detectors need, held per open window and handed over in
feeding order when it closes) and
:mod:`~monitor.window.windower` (the counts per model, version, segment and window since the
last hand-over to stage 2, and the late events), which adds each batch to its open windows in
place (:mod:`~monitor.window.open_counts`).

A window's counts are integers, so parts of a window counted apart merge by addition: stage 1
hands its counts over as partials (:mod:`monitor.exchange`), and stage 2 closes the merged
windows.
"""
