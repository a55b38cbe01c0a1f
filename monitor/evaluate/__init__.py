"""Where a closed window is judged: scores against the baseline, checks, levels, online detectors.

Reading order: :mod:`~monitor.evaluate.scoring` (every statistic of a closed window against its
reference), :mod:`~monitor.evaluate.checks` (scores become checks with two thresholds each),
:mod:`~monitor.evaluate.levels` (the alert state machine of one check, and :class:`Level`), then
the same for every window closing at once: :mod:`~monitor.evaluate.closing` (their checks as
arrays, grouped by which checks they have; their statistical thresholds from
:mod:`~monitor.evaluate.calibrations`, the baselines' null summaries stacked once) and
:mod:`~monitor.evaluate.check_states` (every check's state as arrays, stepped together); and
:mod:`~monitor.evaluate.detector_feed` (online detectors fed a closed window's values in a fixed
order).

This is stage 2: it needs whole windows, so it runs where a model's windows come together
(merged from every source partition's partials when the work is spread over processes).
"""
