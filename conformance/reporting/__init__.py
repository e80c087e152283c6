"""The one report model (``model``; its JSON rules in ``json_values``, its schema
``report.schema.json`` checked by ``schema``), assembled from a run's state (``assemble``); the
facts every renderer shows (``facts``) and the renderers: the text summary and verdict
(``summary``), Markdown (``markdown``), HTML (``html_page``) and its plots (``plots``)."""
