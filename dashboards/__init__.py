"""What researchers look at: the HTML report of a study run, a comparison of runs, and the MLflow
UI and Optuna dashboard opened on a study. Reads the results files (and Tune's files under a run's
``tune/``) only: no Ray, no torch, nothing of how methods train."""
