"""``python -m devtools.llmservers.local --port 8800``: serve the local model (:mod:`.cli`)."""

from devtools.llmservers.local.cli import main

if __name__ == "__main__":
    main()
