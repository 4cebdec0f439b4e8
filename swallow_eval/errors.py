"""One exception type for mistakes a user can fix; the CLI prints it as one line."""


class UserError(Exception):
    """Bad input (file, row, option, model, task): shown without a traceback unless --debug."""


def closest(name: str, choices) -> str:
    """A ' (did you mean X?)' hint for a misspelt name, or ''."""
    import difflib

    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""
