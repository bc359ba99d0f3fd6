"""tune: turn a study YAML into Ray Tune trials of ``adcore.run_trial``, tracked in MLflow.

One job per module: ``study`` (the schema and loading), ``grid`` (grid expansion into trial
configs), ``space`` (search ranges), ``trainable`` (one Tune trial), ``tracking`` (MLflow),
``callbacks`` (rows and progress while a study runs), ``results`` (rows and trials.csv),
``tuner`` (the Tuner, built in one place), ``aggregate`` (tables and figures) and
``run_study`` (the command line). Nothing here knows how a method trains.
"""
