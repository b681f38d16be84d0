"""The reference simulator: a real, stateful Evermuse Ingestion API on loopback, with named faults.

It reads the contract's schemas but imports none of the rule code, so that its behaviour and the
suite's rules are two independent readings of the documentation.
"""

from conformance.simulator.app import Settings, Simulator
from conformance.simulator.faults import FAULTS, Fault, FaultSet
from conformance.simulator.server import LoopbackServer, SimulatorServer, make_settings

__all__ = ["FAULTS", "Fault", "FaultSet", "LoopbackServer", "Settings", "Simulator", "SimulatorServer",
           "make_settings"]
