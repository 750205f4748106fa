"""The verbs on a model repository, one module each: push, checkout, verify, load, aliases, browse."""
