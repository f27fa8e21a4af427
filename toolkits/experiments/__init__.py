"""Experiments toolkit: read run metrics, judge them against preferences.md, restart, journal."""

from toolkits.experiments.mcp import build

# Imported lazily by the tools (start-up stays light), and by a long-lived server's warm-up
# thread (server/lazy_toolkit.py) so a first read of a long run does not wait on them: numpy
# for every series (numpy.ma: np.unique, which downsampling uses, imports it on first use),
# pyarrow's JSON and CSV readers for a log's first bulk parse.
WARM_IMPORTS = ("numpy", "numpy.ma", "pyarrow", "pyarrow.json", "pyarrow.csv")

__all__ = ["WARM_IMPORTS", "build"]
