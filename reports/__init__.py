"""mtlcheck.reports: results.json -> booktabs tables, figures, macros, report.tex and PDF
(`mtlcheck report`)."""
