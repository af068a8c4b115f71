"""virtiosim from Python: configure and run the simulator, sweep parameters,
plot results, read its waves back as ring events, and drive the ring core
in-process over a Python buffer.

    import virtiosim
    r = virtiosim.run(virtiosim.Config(ring="split", queue_size=512), packets=20000)
    print(r.mpps, r.kicks_per_packet)

Each simulation runs the `virtiosim` executable in its own process (a
SystemC kernel elaborates once per process); the ring core
(`virtiosim.ring`) and the wave decoder (`virtiosim.Trace`) run in-process.
"""

from .config import Config, ConfigError, params
from .run import Result, RunError, run, simulator
from .sweep import SweepResult, bottleneck, sweep
from .trace import EVENT_KINDS, NOT_DECODED, Event, Trace
from . import ring

__all__ = [
    "Config", "ConfigError", "params", "Result", "RunError", "run", "simulator", "SweepResult", "sweep",
    "bottleneck", "EVENT_KINDS", "NOT_DECODED", "Event", "Trace", "ring", "plot",
]


def __getattr__(name):
    # matplotlib is imported only when plots are asked for.
    if name == "plot":
        import importlib
        return importlib.import_module(".plot", __name__)
    raise AttributeError(f"module 'virtiosim' has no attribute {name!r}")
