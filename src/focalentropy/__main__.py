"""``python -m focalentropy``: the ``focalentropy`` command line."""

from focalentropy.cli import main

if __name__ == "__main__":
    main(prog_name="focalentropy")
