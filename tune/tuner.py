"""The Tuner, built in one place from a study: trainable and resources, param space, Optuna
searcher on its storage, scheduler, failure retries, storage under the run directory, callbacks.

A ``--resume`` builds a new Tuner over what is left (``tune/resume.py``) rather than restoring
Tune's experiment state, which a driver killed while Tune writes it leaves unreadable; Tune's
state in ``tune/`` is written for Tune's own use and never read back."""
from __future__ import annotations

from typing import Any, Callable, Iterator

from ray import tune
from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, MedianStoppingRule, TrialScheduler

from studyspec.schema import ARM_AXIS, Study
from tune.callbacks import KeptModels, Progress, RowWriter, TrackingSync
from tune.grid import GridPoint, trial_id
from tune.models import Selection
from tune.optuna_space import SearchSpace
from tune.optuna_study import open_study, reconcile, study_note
from tune.repeats import repeat_plan, write_skipped
from tune.resume import Remaining, remaining
from tune.results import RunDir
from tune.samplers import build_sampler
from tune.searcher import StudySearcher
from tune.trainable import TrialContext, train


def trainable(study: Study, context: TrialContext, function: Callable[..., None] = train) -> Any:
    return tune.with_resources(tune.with_parameters(function, context=context),
                               {"cpu": study.resources.cpu, "gpu": study.resources.gpu})


def param_space(points: list[GridPoint], searching: bool) -> dict[str, Any]:
    """Grid (and a search's repeats): one Tune grid_search over the points' keys (those left, on a
    resume). Search: its first point's key; the searcher names each trial's point (its arm's) and
    searched values. Each trial reads its point from the run directory."""
    if not searching:
        return {"point": tune.grid_search([point.key for point in points])}
    return {"point": points[0].key}


def searcher(study: Study, todo: Remaining, space: dict[str, dict[str, Any]], run: RunDir, storage: str,
             earlier_sessions: int = 0) -> StudySearcher:
    """The search's Optuna study on its storage, reconciled with the run's rows, and the searcher that
    proposes from it (``tune/searcher.py``). The sampler is seeded with the study's seed plus the number
    of earlier sessions: the same seed would propose the first session's random start-up points again;
    each session's sampler and seed are recorded in the study's user attributes. A search over arms
    tries each arm once first (its other keys drawn by the sampler), so every arm has a best to repeat."""
    assert study.search is not None
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    seed = study.search.seed + earlier_sessions
    sampler = build_sampler(study.search.algorithm, study.search.options, seed)
    name = f"{study.name}/{run.run_id}"
    first = [{ARM_AXIS: arm} for arm in study.search.arms][: study.search.num_samples]  # every arm is tried
    search = open_study(storage, name, study.objectives, SearchSpace.of(space, todo.points), sampler,
                        study_note(name, study.objectives, run.path), first)
    sessions = search.study.user_attrs.get("samplers", [])
    search.study.set_user_attr("samplers", [*sessions, {"session": earlier_sessions, "sampler": study.search.algorithm,
                                                        "seed": seed, "options": study.search.options}])
    reconcile(search, run)
    return StudySearcher(search, run)


def scheduler(study: Study, max_epochs: int, searching: bool) -> TrialScheduler:
    """The study's scheduler for its trials; a search's repeats run to the end."""
    spec = study.scheduler
    if spec.name == "asha" and (searching or study.search is None):
        return ASHAScheduler(time_attr="training_iteration", max_t=max_epochs, grace_period=spec.grace_period,
                             reduction_factor=spec.reduction_factor)
    if spec.name == "median" and (searching or study.search is None):
        return MedianStoppingRule(time_attr="training_iteration", grace_period=spec.grace_period,
                                  min_samples_required=spec.min_samples_required)
    return FIFOScheduler()


def trial_name(trial: Trial) -> str:
    """Trials are named by their own id: the grid point's key, or the id the searcher gave them."""
    return trial_id(trial.config)


def build_tuner(study: Study, todo: Remaining, space: dict[str, dict[str, Any]], context: TrialContext,
                run: RunDir, earlier_sessions: int = 0, function: Callable[..., None] = train,
                storage: str | None = None) -> tune.Tuner:
    """The Tuner for the points of ``todo`` (a grid's left, or a search's repeats) or, where ``todo``
    searches, for its search on the Optuna storage ``storage``; it writes the points to the run
    directory for the trials to read. ``function`` is the trainable (``train``; the scale benchmark
    passes one that trains nothing)."""
    searching = todo.searching and todo.num_samples > 0
    points = todo.points if searching or not todo.searching else todo.repeats
    # a scheduler's horizon: the longest trial, searched epochs included
    max_epochs = max([point.trial.optim.epochs for point in points] + [space.get("optim.epochs", {}).get("high", 0)])
    run.write_points(point.as_dict() for point in points)
    if searching and storage is None:
        raise ValueError("a search needs its Optuna storage (run.json's optuna entry)")
    search = searcher(study, todo, space, run, storage, earlier_sessions) if searching and storage is not None else None
    callbacks = [RowWriter(run, context.git_commit), TrackingSync(context.tracking),
                 KeptModels(Selection(study, run)), Progress(study.selection_metric)]
    return tune.Tuner(
        trainable(study, context, function),
        param_space=param_space(points, searching),
        tune_config=tune.TuneConfig(
            metric=study.selection_metric, mode=study.selection_mode, search_alg=search,
            scheduler=scheduler(study, max_epochs, searching),
            num_samples=todo.num_samples if searching else 1,
            max_concurrent_trials=study.concurrency, reuse_actors=True,
            trial_name_creator=trial_name, trial_dirname_creator=trial_name),
        run_config=tune.RunConfig(
            name=run.tune_dir.name, storage_path=str(run.path),
            failure_config=tune.FailureConfig(max_failures=study.max_failures),
            callbacks=callbacks, verbose=0))


def session_tuners(study: Study, todo: Remaining, space: dict[str, dict[str, Any]], context: TrialContext,
                   run: RunDir, earlier_sessions: int = 0, storage: str | None = None) -> Iterator[tune.Tuner]:
    """The Tuners of a session, each built once the one before has run: a grid's; a search's, then,
    once every searched trial has ended, the repeats of each arm's best (``search.repeat_best``)."""
    if todo.searching and todo.num_samples:
        yield build_tuner(study, todo, space, context, run, earlier_sessions, storage=storage)
    elif not todo.searching:
        yield build_tuner(study, todo, space, context, run, earlier_sessions)
    if not todo.searching or study.search is None or not study.search.repeat_best:
        return
    after = remaining(study, todo.points, run)  # the search's rows now
    if after.num_samples:
        return  # interrupted, or a trial errored out of its retries: --resume runs the rest first
    plan = repeat_plan(study, todo.points, run)
    write_skipped(run, plan, context.git_commit)
    left = [point for point in plan.runnable if point.key in {p.key for p in after.repeats}]
    if left:
        yield build_tuner(study, Remaining(todo.points, searching=True, repeats=left), {}, context, run, earlier_sessions)
