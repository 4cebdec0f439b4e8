"""Backends serve GenerateRequest and LoglikelihoodRequest lists; one instance serves a whole run."""

from __future__ import annotations

import inspect

from swallow_eval.errors import UserError, closest

BACKENDS = {
    "hf": "swallow_eval.backends.hf:HFBackend",
    "vllm": "swallow_eval.backends.vllm:VLLMBackend",
    "openai": "swallow_eval.backends.openai:OpenAIBackend",
}

# Backends whose batching a data-parallel driver plans itself (work items, no weights): their
# responses then do not depend on which replica or chunk computes them (swallow_eval.dispatch).
PLANNERS = {"hf": "swallow_eval.backends.hf_plan:HFPlanner"}


def check(name: str) -> None:
    if name not in BACKENDS:
        raise UserError(f"unknown backend {name!r}{closest(name, BACKENDS)}; available: {', '.join(BACKENDS)}")


def _backend_class(name: str):
    check(name)
    module_name, class_name = BACKENDS[name].split(":")
    return getattr(__import__(module_name, fromlist=[class_name]), class_name)


def accepted(name: str, **options) -> dict:
    """The options the backend `name` has, of those given."""
    parameters = inspect.signature(_backend_class(name)).parameters
    return {key: value for key, value in options.items() if key in parameters}


def create(name: str, model, **options):
    """The backend `name` for `model`; options left at None take the backend's defaults, and an
    option the backend does not have is a user error (e.g. --base-url with --backend hf)."""
    backend_class = _backend_class(name)
    given = {key: value for key, value in options.items() if value is not None}
    parameters = inspect.signature(backend_class).parameters
    for key in given:
        if key not in parameters:
            raise UserError(f"--{key.replace('_', '-')} is not an option of --backend {name}")
    return backend_class(model, **given)


def planner(name: str, model, **options):
    """The driver-side planner of backend `name` for replicas built with `options`, or None."""
    if name not in PLANNERS:
        return None
    module_name, class_name = PLANNERS[name].split(":")
    return getattr(__import__(module_name, fromlist=[class_name]), class_name).for_driver(model, **options)
