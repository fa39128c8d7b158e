"""What only `make` runs, never a DVC stage: the grid runner, the benchmark, the team server, the
README's screenshots and the offline plots page."""
