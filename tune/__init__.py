"""tune: turn a study YAML into Ray Tune trials of ``adcore.run_trial``, tracked in MLflow.

One job per module: ``study`` (loading a study file; its schema is ``studyspec.schema``), ``grid``
(grid expansion into trial configs, and a trial's point, config and row, without Ray), ``space``
(search ranges), ``trainable`` (one Tune trial, which writes its own row), ``tracking`` (MLflow),
``callbacks`` (rows of trials that end without one, the search's Optuna study, progress),
``progress`` (the line a runner prints per ended trial), ``results`` (the run directory, its rows and
the one writer of trials.csv), ``tuner`` (the Tuner, built in one place) and ``run_study`` (the command
line), which hands the finished run to dashboards/ for its table, figures and report. Nothing here
knows how a method trains.
"""
