"""Backends serve GenerateRequest and LoglikelihoodRequest lists; one instance serves a whole run."""

from __future__ import annotations

from swallow_eval.errors import UserError, closest

BACKENDS = {"hf": "swallow_eval.backends.hf:HFBackend"}


def check(name: str) -> None:
    if name not in BACKENDS:
        raise UserError(f"unknown backend {name!r}{closest(name, BACKENDS)}; available: {', '.join(BACKENDS)}")


def create(name: str, model, **options):
    check(name)
    module_name, class_name = BACKENDS[name].split(":")
    module = __import__(module_name, fromlist=[class_name])
    return getattr(module, class_name)(model, **options)
