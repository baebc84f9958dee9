#!/bin/sh
# The "Python" of curate's lean Ray head (curate.executor.start_lean_head): the raylet starts its dashboard
# and runtime-env agents and its workers with this file as the interpreter. The agents, which a run on the
# lean head does not use, become this shell waiting for the raylet to end (about 1 MB each instead of the
# 55-85 MB of a Python agent); every other command runs in the real interpreter, $CURATE_RAY_PYTHON.
# Arguments as Ray gives them: -u, the script, its flags.
case "$1 $2" in
*/dashboard/agent.py* | */runtime_env/agent/main.py*)
    while kill -0 "$PPID" 2>/dev/null; do sleep 1; done
    exit 0
    ;;
esac
exec "$CURATE_RAY_PYTHON" "$@"
