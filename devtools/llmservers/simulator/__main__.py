"""``python -m devtools.llmservers.simulator --port 8800``: run the simulator (see ``--help``)."""

from devtools.llmservers.simulator.cli import main

main()
