"""Training baselines: read training data, bin it, count it, calibrate, save and load.

Pure data and numpy; never imports ``monitor``. Modules, in the order a build uses them:

- ``reader``: Parquet / CSV / JSON Lines (optionally gzipped) → one pyarrow table.
- ``columns``: which column is a feature, the prediction, the label, a segment; feature kinds.
- ``binning``: the slot layouts shared with the live windows (value → slot index).
- ``profile``: one column binned once; references and summaries of any row subset.
- ``targets``: task inference, prediction scores and reference performance.
- ``multiclass``: a multiclass model's classes, predicted class and class probabilities.
- ``calibration``: null distributions of the statistics per window size.
- ``build``: ``build_baseline`` / ``build_baseline_file`` (what the CLI calls).
- ``values``: what a baseline is (frozen value types) and how it scores live counts.
- ``codec``: the baseline's JSON document, typed once, to and from the values; its digest.
- ``json_file`` and ``baseline_file``: reading a JSON file with one-line errors; the baseline
  file's save and load.
- ``errors``: the root of driftwarden's one exception hierarchy and ``BaselineError``, raised
  with a one-line message for every user mistake.
"""
