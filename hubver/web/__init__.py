"""The web pages of hubver: repositories, versions, charts, compare, alias timelines.

One set of page builders (`pages.py`) reads a `Source` (`source.py`): the embedded hub's own
store (`store_source.py`, mounted by hubver/server/app.py) or a Hub's API (`api_source.py`, for
`hubver ui`, the only module here that imports huggingface_hub or hubver's client). Rendering is
Jinja2 with autoescape on (`render.py`); HTTP, sign-in and CSRF are in `http.py` and `session.py`.
"""
