"""Where a closed window is judged: scores against the baseline, checks, levels, online detectors.

Reading order: :mod:`~monitor.evaluate.scoring` (every statistic of a closed window against its
reference), :mod:`~monitor.evaluate.checks` (scores become checks with two thresholds each),
:mod:`~monitor.evaluate.levels` (the alert state machine of one check, and :class:`Level`) and
:mod:`~monitor.evaluate.detector_feed` (online detectors fed a closed window's values in a fixed
order).

This is stage 2: it needs whole windows, so it runs where a model's windows come together
(merged from every source partition's partials when the work is spread over processes).
"""
