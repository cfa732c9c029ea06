"""Runners: start external tools (ngspice, openvaf-r, Icarus/cocotb, Verilator, Yosys)."""
