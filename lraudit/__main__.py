"""``python -m lraudit`` is the same as the ``lraudit`` command."""
from lraudit.cli import main

if __name__ == "__main__":
    main()
