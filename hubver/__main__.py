"""`python -m hubver`: the same as the `hubver` command."""

from .cli import main

if __name__ == "__main__":
    main()
