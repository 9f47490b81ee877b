"""Where planned runs execute: `local` (this machine's process pool, optionally pinned to GPUs;
runner.execute) or `slurm` (one submitit job array per `vdi run`; executors/slurm.py). Both run
a key through the same runner._run_one, so a run stores the same record wherever it ran."""

EXECUTORS = ("local", "slurm")
