"""The one report model (``model``, schema in ``report.schema.json``), assembled from a run's
state (``assemble``), and what renders it: the text summary and verdict (``summary``), Markdown,
HTML (``html_page``) and its plots."""
