"""Ranks that agree: what every distributed call does before it enters the engine.

The engine's collectives are called by every rank or by none. A check that fails on one rank
only (its block of rows holds a NaN, is not two-dimensional, ...) must therefore fail on every
rank, with the same message, instead of leaving the others waiting in a collective forever.
"""

_KNOWN_ERRORS = {"ValueError": ValueError, "TypeError": TypeError, "MemoryError": MemoryError}


def handle(comm):
    """The Fortran handle the engine takes for an mpi4py communicator (None: in process)."""
    if comm is None:
        return None
    try:
        return comm.py2f()
    except AttributeError:
        raise TypeError(
            f"comm must be an mpi4py communicator (e.g. mpi4py.MPI.COMM_WORLD) or None, "
            f"not {type(comm).__name__}") from None


def agreed(comm, check):
    """check() on every rank of comm; when it raises on any rank, every rank raises.

    The lowest failing rank's error wins: that rank raises its own exception, the others an
    exception of the same kind whose message names that rank.
    """
    if comm is None:
        return check()
    try:
        result, failure = check(), None
    except Exception as error:  # noqa: BLE001 - passed on to every rank
        result, failure = None, error
    reports = comm.allgather(None if failure is None else (type(failure).__name__, str(failure)))
    for rank, report in enumerate(reports):
        if report is None:
            continue
        if rank == comm.Get_rank():
            raise failure
        kind, message = report
        raise _KNOWN_ERRORS.get(kind, RuntimeError)(f"rank {rank}: {message}")
    return result


def same_everywhere(comm, facts):
    """Raises on every rank when a rank's facts (parameters, dtype, ...) differ from rank 0's.

    The engine's collectives follow from these facts: a rank fitting float32 rows, another k,
    mode, or sample weights where the others pass none would call other collectives, or the
    same ones with other sizes, and every rank would wait forever (or MPI would abort).
    `facts` maps a name to a picklable value; None means "this rank does not say" (a rank
    without rows has no dtype of its own) and matches anything.
    """
    if comm is None:
        return
    every = comm.allgather(facts)
    for name in facts:
        values = [(rank, f.get(name)) for rank, f in enumerate(every) if f.get(name) is not None]
        for rank, value in values[1:]:
            first_rank, first = values[0]
            if not _equal(value, first):
                raise ValueError(f"{name} is {first!r} on rank {first_rank} but {value!r} on rank {rank}: "
                                 f"every rank of comm must pass the same {name}")


def _equal(a, b):
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - values that do not compare are not the same
        return False


def same_on_every_rank(comm, value):
    """Rank 0's value on every rank (a seed drawn at random, say)."""
    return value if comm is None else comm.bcast(value, root=0)


def total(comm, value):
    """The sum over ranks."""
    return value if comm is None else comm.allreduce(value)
