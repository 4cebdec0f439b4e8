"""How each reference framework turns data into prompts: shared by the task files that use it."""
