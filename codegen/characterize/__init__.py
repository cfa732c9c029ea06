"""codegen characterize: settling time and energy of the EP phases (ngspice transients)."""
