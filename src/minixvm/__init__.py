"""minixvm: the MINIX 3 memory system, rebuilt in Python."""

from minixvm.boot import Spawned, Statistics, System
from minixvm.errors import KernelPanic, MinixError, SystemHalted

__all__ = ["System", "Spawned", "Statistics", "MinixError", "KernelPanic", "SystemHalted"]
