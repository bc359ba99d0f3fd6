"""The Optuna samplers a search may name (``search.algorithm``), each with the options a study may set
(``search.options``), checked before Ray starts like any other key.

An option left out keeps Optuna's own default; the seed is the study's (``search.seed``). Adding a
sampler is one Options model and one ``add_sampler`` line; tests run a smoke search with each.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adcore.registry import Registry

if TYPE_CHECKING:
    import optuna


class Options(BaseModel):
    """A sampler's options: unknown ones are errors; None leaves Optuna's default."""

    model_config = ConfigDict(extra="forbid")


class TPEOptions(Options):
    n_startup_trials: int | None = Field(None, ge=0, description="random trials before TPE models the results (10)")
    n_ei_candidates: int | None = Field(None, ge=1, description="candidates scored per proposal (24)")
    multivariate: bool | None = Field(None, description="one joint density over the parameters (False)")
    group: bool | None = Field(None, description="with multivariate: separate densities per conditional subspace (False)")
    constant_liar: bool | None = Field(None, description="count running trials as bad ones, so parallel trials differ (True)")
    consider_endpoints: bool | None = Field(None, description="widen the kernels at the range's ends (False)")
    prior_weight: float | None = Field(None, gt=0, description="weight of the prior over the range (1.0)")
    warn_independent_sampling: bool | None = Field(None, description="warn when a parameter falls back to "
                                                   "independent sampling")


class RandomOptions(Options):
    """Random sampling has no options besides the seed."""


class CmaEsOptions(Options):
    n_startup_trials: int | None = Field(None, ge=0, description="random trials before CMA-ES starts (1)")
    sigma0: float | None = Field(None, gt=0, description="initial step size (min range / 6)")
    popsize: int | None = Field(None, ge=2, description="population size (4 + 3 ln(dimensions))")
    use_separable_cma: bool | None = Field(None, description="diagonal covariance: faster in many dimensions (False)")
    with_margin: bool | None = Field(None, description="CMA-ES with margin for integer parameters (False)")
    lr_adapt: bool | None = Field(None, description="adapt the learning rate to noisy objectives (False)")
    consider_pruned_trials: bool | None = Field(None, description="learn from trials a scheduler stopped (False)")
    warn_independent_sampling: bool | None = Field(None, description="warn when a parameter (a categorical or "
                                                   "conditional one) is sampled at random instead (True)")


class GPOptions(Options):
    n_startup_trials: int | None = Field(None, ge=0, description="random trials before the Gaussian process (10)")
    deterministic_objective: bool | None = Field(None, description="the objective has no noise (False)")
    warn_independent_sampling: bool | None = Field(None, description="warn when a conditional parameter is sampled "
                                                   "at random instead (True)")


class NSGA2Options(Options):
    population_size: int | None = Field(None, ge=2, description="trials per generation (50)")
    mutation_prob: float | None = Field(None, ge=0, le=1, description="probability of mutating a parameter "
                                        "(1 / number of parameters)")
    crossover_prob: float | None = Field(None, ge=0, le=1, description="probability of a crossover (0.9)")
    swapping_prob: float | None = Field(None, ge=0, le=1, description="probability of swapping a parameter in a "
                                        "uniform crossover (0.5)")


@dataclass(frozen=True)
class SamplerKind:
    name: str
    Options: type[Options]
    build: Callable[..., "optuna.samplers.BaseSampler"]  # (seed=..., **options)
    objectives: Literal["one", "any"]  # several objectives (a Pareto search) need "any"
    about: str


SAMPLERS: Registry[SamplerKind] = Registry("sampler")


def add_sampler(name: str, options: type[Options], class_name: str, objectives: Literal["one", "any"], about: str) -> None:
    def build(**kwargs: Any) -> "optuna.samplers.BaseSampler":
        import optuna

        return getattr(optuna.samplers, class_name)(**kwargs)

    SAMPLERS.register(name)(SamplerKind(name, options, build, objectives, about))


add_sampler("tpe", TPEOptions, "TPESampler", "any", "tree-structured Parzen estimator (the default)")
add_sampler("random", RandomOptions, "RandomSampler", "any", "independent uniform draws")
add_sampler("cmaes", CmaEsOptions, "CmaEsSampler", "one", "CMA-ES over the numeric parameters (needs the cmaes package)")
add_sampler("gp", GPOptions, "GPSampler", "any", "Gaussian-process Bayesian optimisation (torch, scipy)")
add_sampler("nsga2", NSGA2Options, "NSGAIISampler", "any", "NSGA-II, the genetic algorithm for Pareto searches")


def check_sampler(name: str, options: dict[str, Any], objectives: int) -> list[str]:
    """Why ``search.algorithm`` / ``search.options`` cannot run ``objectives`` objectives: one line per
    problem, with the valid choices (empty: fine)."""
    if name not in SAMPLERS:
        return [f"search.algorithm: unknown sampler {name!r}; valid samplers: {', '.join(SAMPLERS.names())}"]
    kind = SAMPLERS.get(name)
    problems = []
    try:
        kind.Options.model_validate(options)
    except ValidationError as error:
        valid = ", ".join(kind.Options.model_fields) or "none"
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"])
            what = (f"unknown option of sampler {name}; valid options: {valid}" if item["type"] == "extra_forbidden"
                    else item["msg"])
            problems.append(f"search.options.{where}: {what}")
    if objectives > 1 and kind.objectives == "one":
        several = [k for k in SAMPLERS.names() if SAMPLERS.get(k).objectives == "any"]
        problems.append(f"search.algorithm: {name} optimises one objective; a search over several metrics needs one "
                        f"of {', '.join(several)}")
    return problems


def build_sampler(name: str, options: dict[str, Any], seed: int) -> "optuna.samplers.BaseSampler":
    """The seeded sampler with the study's options (those left out keep Optuna's defaults)."""
    kind = SAMPLERS.get(name)
    return kind.build(seed=seed, **kind.Options.model_validate(options).model_dump(exclude_none=True))
