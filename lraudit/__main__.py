"""``python -m lraudit`` is the same as the ``lraudit`` command."""
import sys

try:
    from lraudit.cli import main
except ModuleNotFoundError as exc:  # run from a checkout without installing it: one line, exit 2
    sys.stderr.write(
        f"lraudit: missing dependency {exc.name!r}: install lraudit first (pip install -e . or "
        "pip install keras-lraudit)\n"
    )
    sys.exit(2)

if __name__ == "__main__":
    main()
