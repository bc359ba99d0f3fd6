"""The Tune searcher of a study: Optuna's ask-and-tell on the run's storage, trials named by the run.

Tune's trial ids are new in every driver session, and a resumed study never reads Tune's own
experiment state (see ``tune/resume.py``). So the searcher names each trial it proposes,
``<point>_<n>`` (the point is its arm's grid point), stores that id with the Optuna trial
(``trial_id`` user attribute) and puts it in the trial's config: the trial's row, its checkpoints,
its MLflow run and its Optuna trial are all keyed by it. It proposes first the storage trials a
killed session left running (``tune/optuna_study.py`` reconciles the storage with the rows before
the session starts), each under its old id, so it continues from its checkpoint; then new ones,
drawn by the sampler from the define-by-run space (``tune/optuna_space.py``).

Each epoch's validation metric is stored as the trial's intermediate value; when a trial ends its
Optuna trial is told what its row says (the objectives' values from the row, so costs such as
``train_s`` can be objectives). Writing to a storage as things happen is what lets optuna-dashboard
show the search live; Tune's own checkpoint of the searcher is not needed and not written.
"""
from __future__ import annotations

from typing import Any

import optuna
from optuna.trial import TrialState
from ray.tune.search import Searcher

from tune.optuna_study import SearchStudy
from tune.results import RunDir
from tune.resume import search_trial_id


class StudySearcher(Searcher):
    """Proposes the search's trials from its Optuna study and tells the study how each ended."""

    def __init__(self, search: SearchStudy, run: RunDir) -> None:
        metric, mode = search.objectives[0]
        super().__init__(metric=metric, mode=mode)  # what Tune checks each result for: the validation metric
        self.search, self.run = search, run
        self.live: dict[str, tuple[int, str]] = {}  # Tune's trial id -> (storage trial number, our trial id)

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True  # the space is the study's own; Tune's param space names only the grid point

    def _next(self) -> optuna.Trial:
        """The next storage trial to run: one left pending by an earlier session, else a new one."""
        search = self.search
        while search.pending:
            number = search.pending.pop(0)
            trial_id = search.trial_id(number)
            state = search.storage.get_trial(trial_id).state
            if state == TrialState.WAITING:
                search.storage.set_trial_state_values(trial_id, TrialState.RUNNING)
            elif state != TrialState.RUNNING:
                continue
            return optuna.trial.Trial(search.study, trial_id)
        return search.study.ask()

    def suggest(self, trial_id: str) -> dict | None:
        trial = self._next()
        params = self.search.space.suggest(trial)
        point = self.search.space.point(params)
        name = trial.user_attrs.get("trial_id")
        if name is None:
            name = search_trial_id(point, self.search.next_index)
            self.search.next_index += 1
            trial.set_user_attr("trial_id", name)
            trial.set_user_attr("status", "running")
        self.live[trial_id] = (trial.number, name)
        return {"point": point, "search": self.search.space.config_values(params), "trial_id": name}

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if len(self.search.objectives) == 1 and trial_id in self.live and self.metric in result:
            self.search.report(self.live[trial_id][0], int(result["epoch"]), result[self.metric])

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id not in self.live:
            return
        number, name = self.live.pop(trial_id)
        self.search.finish(number, self.run.read_row(name), errored=error)

    def __getstate__(self) -> dict[str, Any]:
        """Tune pickles its Tuner (``tuner.pkl``) for a restore this project never does: without the live
        storage connection, which cannot be pickled."""
        return {**self.__dict__, "search": None}

    def save(self, checkpoint_path: str) -> None:
        """Nothing to save: the search is in its storage, and Tune's state is never read back."""

    def restore(self, checkpoint_path: str) -> None:
        raise NotImplementedError("a resumed study reconciles its Optuna storage with its rows (tune/optuna_study.py)")
