"""Built-in task plugins, one file per benchmark; loaded by path by swallow_eval.task.load_registry."""
