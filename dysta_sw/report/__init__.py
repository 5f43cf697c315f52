"""The paper's experiment grid and its report (``dysta reproduce``), split by concern:

- :mod:`~dysta_sw.report.grid`: the grid of Table 5 and Figures 12 to 15 (:class:`Config`);
- :mod:`~dysta_sw.report.tables`: Table 5 layouts, generic text/Markdown tables, CSV files;
- :mod:`~dysta_sw.report.plots`: the figures (matplotlib, imported when a plot is drawn);
- :mod:`~dysta_sw.report.sections`: the sections plug-ins contribute (``dysta.report_sections``);
- :mod:`~dysta_sw.report.traces`: the trace-statistics section (paper Figs. 2, 3, 4, 9; Tables 2, 4);
- :mod:`~dysta_sw.report.paper`: :func:`~dysta_sw.report.paper.reproduce`, which writes the report.

This package imports nothing at import time, so ``from dysta_sw.report.tables import rows_table``
costs only that module.
"""
