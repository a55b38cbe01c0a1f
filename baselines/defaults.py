"""Defaults of the baseline build options the CLI offers, importable without numpy or pyarrow (the
CLI shows them in ``--help`` before it loads anything heavy)."""

#: Quantile bins per numeric feature.
DEFAULT_BINS = 10
#: Categories kept per categorical feature.
DEFAULT_TOP_K = 50
#: Window sizes (events) the null distributions are calibrated for.
DEFAULT_WINDOW_SIZES = (100, 1000, 10_000)
