"""The Tuner, built in one place from a study: trainable and resources, param space, Optuna
searcher, scheduler, failure retries, storage under the run directory, callbacks.

A ``--resume`` builds a new Tuner over what is left (``tune/resume.py``) rather than restoring
Tune's experiment state, which a driver killed while Tune writes it leaves unreadable; Tune's
state in ``tune/`` is written for Tune's own use and never read back."""
from __future__ import annotations

from typing import Any, Callable

from ray import tune
from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, MedianStoppingRule, TrialScheduler

from studyspec.schema import Study
from tune.callbacks import KeptModels, Progress, RowWriter, SearchExport, TrackingSync
from tune.grid import GridPoint, trial_id
from tune.models import Selection
from tune.resume import Remaining
from tune.results import RunDir
from tune.searcher import KeyedOptunaSearch
from tune.trainable import TrialContext, train


def trainable(study: Study, context: TrialContext, function: Callable[..., None] = train) -> Any:
    return tune.with_resources(tune.with_parameters(function, context=context),
                               {"cpu": study.resources.cpu, "gpu": study.resources.gpu})


def param_space(study: Study, points: list[GridPoint], space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Grid: one Tune grid_search over the points' keys (those left, on a resume). Search: the one
    point's key plus the searched keys. Each trial reads its point from the run directory."""
    if study.search is None:
        return {"point": tune.grid_search([point.key for point in points])}
    return {"point": points[0].key, "search": {key: _domain(spec) for key, spec in space.items()}}


def _domain(spec: dict[str, Any]) -> Any:
    kind = spec["type"]
    if kind == "categorical":
        return tune.choice(spec["choices"])
    if kind == "int":
        return tune.randint(spec["low"], spec["high"] + 1)  # randint's upper bound is exclusive
    return (tune.loguniform if kind == "loguniform" else tune.uniform)(spec["low"], spec["high"])


def searcher(study: Study, todo: Remaining | None = None, earlier_sessions: int = 0) -> Any:
    """Optuna through Ray Tune, seeded in the driver, naming its trials; a resumed session's searcher
    knows the run's done trials and proposes its unfinished ones first (``tune/searcher.py``). Its
    sampler is seeded with the study's seed plus the number of earlier sessions: the same seed would
    propose the first session's random start-up points again."""
    if study.search is None:
        return None
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kind = optuna.samplers.TPESampler if study.search.algorithm == "tpe" else optuna.samplers.RandomSampler
    todo = todo or Remaining([], searching=True)
    return KeyedOptunaSearch(kind(seed=study.search.seed + earlier_sessions), todo.evaluated, todo.pending,
                             todo.next_index)


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
    """Trials are named by their own id: the grid point's key, or the id the searcher gave them."""
    return trial_id(trial.config)


def build_tuner(study: Study, todo: Remaining, space: dict[str, dict[str, Any]], context: TrialContext,
                run: RunDir, earlier_sessions: int = 0, function: Callable[..., None] = train) -> tune.Tuner:
    """The Tuner for what is left of a run (everything, for a new run), whose points it writes to the
    run directory for the trials to read; ``function`` is the trainable (``train``; the scale
    benchmark passes one that trains nothing)."""
    max_epochs = max(point.trial.optim.epochs for point in todo.points)
    run.write_points(point.as_dict() for point in todo.points)
    search = searcher(study, todo, earlier_sessions)
    callbacks = [RowWriter(run, context.git_commit), TrackingSync(context.tracking),
                 KeptModels(Selection(study, run)), Progress(study.metric)]
    if search is not None:
        callbacks.append(SearchExport(search, run, f"{study.name}/{run.run_id}", study.metric))
    return tune.Tuner(
        trainable(study, context, function),
        param_space=param_space(study, todo.points, space),
        tune_config=tune.TuneConfig(
            metric=study.metric, mode=study.mode, search_alg=search,
            scheduler=scheduler(study, max_epochs),
            num_samples=todo.num_samples if study.search else 1,
            max_concurrent_trials=study.concurrency, reuse_actors=True,
            trial_name_creator=trial_name, trial_dirname_creator=trial_name),
        run_config=tune.RunConfig(
            name=run.tune_dir.name, storage_path=str(run.path),
            failure_config=tune.FailureConfig(max_failures=study.max_failures),
            callbacks=callbacks, verbose=0))
