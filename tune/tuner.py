"""The Tuner, built in one place from a study: trainable and resources, param space, Optuna
searcher, scheduler, failure retries, storage under the run directory, callbacks; and its
restore for ``--resume``."""
from __future__ import annotations

from typing import Any

from ray import tune
from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, MedianStoppingRule, TrialScheduler

from tune.callbacks import Progress, RowWriter
from tune.grid import GridPoint
from tune.results import RunDir
from tune.study import Study
from tune.trainable import TrialContext, train


def trainable(study: Study, context: TrialContext) -> Any:
    return tune.with_resources(tune.with_parameters(train, context=context),
                               {"cpu": study.resources.cpu, "gpu": study.resources.gpu})


def param_space(study: Study, points: list[GridPoint], space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Grid: one Tune grid_search over the points. Search: the one point plus the searched keys."""
    if study.search is None:
        return {"point": tune.grid_search([point.as_dict() for point in points])}
    return {"point": points[0].as_dict(), "search": {key: _domain(spec) for key, spec in space.items()}}


def _domain(spec: dict[str, Any]) -> Any:
    kind = spec["type"]
    if kind == "categorical":
        return tune.choice(spec["choices"])
    if kind == "int":
        return tune.randint(spec["low"], spec["high"] + 1)  # randint's upper bound is exclusive
    return (tune.loguniform if kind == "loguniform" else tune.uniform)(spec["low"], spec["high"])


def searcher(study: Study) -> Any:
    """Optuna through Ray Tune, seeded in the driver. Its state lives in Tune's experiment
    checkpoint (no separate Optuna storage: a killed driver would leave that one ahead)."""
    if study.search is None:
        return None
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kind = optuna.samplers.TPESampler if study.search.algorithm == "tpe" else optuna.samplers.RandomSampler
    return OptunaSearch(sampler=kind(seed=study.search.seed))


def scheduler(study: Study, max_epochs: int) -> TrialScheduler:
    spec = study.scheduler
    if spec.name == "asha":
        return ASHAScheduler(time_attr="training_iteration", max_t=max_epochs, grace_period=spec.grace_period,
                             reduction_factor=spec.reduction_factor)
    if spec.name == "median":
        return MedianStoppingRule(time_attr="training_iteration", grace_period=spec.grace_period,
                                  min_samples_required=spec.min_samples_required)
    return FIFOScheduler()


def trial_name(trial: Trial) -> str:
    """Grid trials are named by their point; search trials by their point and index."""
    key = trial.config["point"]["key"]
    return f"{key}_{trial.trial_id.split('_')[-1]}" if "search" in trial.config else key


def build_tuner(study: Study, points: list[GridPoint], space: dict[str, dict[str, Any]],
                context: TrialContext, run: RunDir) -> tune.Tuner:
    max_epochs = max(point.trial.optim.epochs for point in points)
    return tune.Tuner(
        trainable(study, context),
        param_space=param_space(study, points, space),
        tune_config=tune.TuneConfig(
            metric=study.metric, mode=study.mode, search_alg=searcher(study),
            scheduler=scheduler(study, max_epochs),
            num_samples=study.search.num_samples if study.search else 1,
            max_concurrent_trials=study.concurrency, reuse_actors=True,
            trial_name_creator=trial_name, trial_dirname_creator=trial_name),
        run_config=tune.RunConfig(
            name=run.tune_dir.name, storage_path=str(run.path),
            failure_config=tune.FailureConfig(max_failures=study.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            callbacks=[RowWriter(run), Progress(study.metric)], verbose=0))


def restore_tuner(study: Study, context: TrialContext, run: RunDir) -> tune.Tuner:
    """Resume: finished trials stay finished, unfinished and errored ones continue from their
    last checkpoint, and the searcher continues from its saved state."""
    return tune.Tuner.restore(str(run.tune_dir), trainable(study, context),
                              resume_unfinished=True, resume_errored=True)
