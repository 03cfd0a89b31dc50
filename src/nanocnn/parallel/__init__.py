"""The ranks of a run: one process, or an ``mpiexec`` job (see :mod:`.workers`), started on
this machine by ``nanocnn train --workers N`` (:mod:`.launch`), and what makes them train as
one (:mod:`.data_parallel`)."""

from nanocnn.parallel.data_parallel import DataParallel, ShardedDraws
from nanocnn.parallel.launch import launch, mpiexec
from nanocnn.parallel.workers import MPIWorkers, Workers, world_size

__all__ = [
    "DataParallel",
    "MPIWorkers",
    "ShardedDraws",
    "Workers",
    "launch",
    "mpiexec",
    "world_size",
]
