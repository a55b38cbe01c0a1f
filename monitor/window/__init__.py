"""Where events become windows: event-time tumbling windows of exact integer slot counts.

Reading order: :mod:`~monitor.window.slot_layout` (how one model's events become a flat count
vector), :mod:`~monitor.window.grid` (where windows start and end: the Unix epoch's grid, or
calendar days, ISO weeks and months of a time zone), :mod:`~monitor.window.watermark`
(per-partition event-time progress, which closes windows), :mod:`~monitor.window.value_buffers`
(the per-event values the online detectors need, held per open window and handed over in
feeding order when it closes) and
:mod:`~monitor.window.windower` (the open windows per model, version and segment, their late
events, and the closed windows it hands to evaluation).

A window's counts are integers, so windows of the same key merge by addition: this is the
end of stage 1, and the home of per-partition partial windows when they are published.
"""
