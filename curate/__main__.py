import atexit
import os
import sys

from curate.lean import lean_allocators

lean_allocators()  # before pyarrow is imported

from curate.cli import main  # noqa: E402

rc = main()
if "ray" in sys.modules and sys.modules["ray"].is_initialized():
    sys.exit(rc)  # attached to a cluster: Ray's own exit handling disconnects the driver cleanly
# Every output is written, closed and renamed by now; what remains is the interpreter tearing down Ray's and
# pyarrow's modules (0.4-0.7 s of a run's wall time, measured when the report still loaded matplotlib): the exit
# handlers run, the streams are flushed, and the process ends without that teardown.
atexit._run_exitfuncs()
sys.stdout.flush()
sys.stderr.flush()
os._exit(0 if rc is None else rc if isinstance(rc, int) else 1)  # as sys.exit(rc) would
