"""`python -m scripts_es.cli`."""

from scripts_es.cli import main

if __name__ == "__main__":
    main()
