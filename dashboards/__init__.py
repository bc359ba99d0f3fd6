"""What researchers look at, rebuilt from a run directory alone (no Ray, no torch, nothing of how
methods train): the table as data and its formats (``tables``, ``table_formats``), the paired
statistics that say whether a table's differences are real (``statistics``), the figures (a
registry, ``figures/``), metric names and scales in one place (``metrics``), the HTML report, a
comparison of runs, and the MLflow UI and Optuna dashboard opened on a study. ``spec`` holds the
table section of a study file and reads back the saved study; nothing here imports tune/."""
