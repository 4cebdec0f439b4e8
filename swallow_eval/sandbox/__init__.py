"""The machinery under `swallow_eval.execution`: the zygote process and the Linux isolation of
each program (see execution's docstring for the layers).

Standard library only, imported with relative imports: the zygote loads this package by its
path, under the name `sandbox` (see __main__.py), never through swallow_eval.
"""
