* xor: XOR, 2 doubled inputs, 4 diode neurons, one doubled output.
* Simultaneous phases (docs/background.md, section 2): 3 copies of the network share the sources and
* the crossbar subcircuits (so the conductances) and are solved in one operating point:
*   free: XNET
*   pos: XNET__POS, beta = 1e-06 S
*   neg: XNET__NEG, beta = -1e-06 S
.include cells.sp

.options klu reltol=1e-06 vntol=1e-09 abstol=1e-15 gmin=1e-12 itl1=200
.options temp=27.0 tnom=27.0

* sources (V): inputs (0 V here; a runner alters them), bias, neuron clamp levels
Vin0p in0p 0 DC 0
Vin0n in0n 0 DC 0
Vin1p in1p 0 DC 0
Vin1n in1n 0 DC 0
Vbias_p bias_p 0 DC 1.0
Vbias_n bias_n 0 DC -1.0
Vnrn_hi nrn_hi 0 DC 0.05
Vnrn_lo nrn_lo 0 DC -0.05

* network copy free
XNET in0p in0n in1p in1n bias_p bias_n nrn_hi nrn_lo h1_0 h1_1 h1_2 h1_3 out0p out0n h1_0_a1 h1_1_a1 h1_2_a1 h1_3_a1 xor_net

* network copy pos
XNET__POS in0p in0n in1p in1n bias_p bias_n nrn_hi nrn_lo h1_0__pos h1_1__pos h1_2__pos h1_3__pos out0p__pos out0n__pos h1_0_a1__pos h1_1_a1__pos h1_2_a1__pos h1_3_a1__pos xor_net
VTGT0__POS tref0__pos out0n__pos DC 0
GNUDGE0__POS out0n__pos out0p__pos tref0__pos out0p__pos 1e-06

* network copy neg
XNET__NEG in0p in0n in1p in1n bias_p bias_n nrn_hi nrn_lo h1_0__neg h1_1__neg h1_2__neg h1_3__neg out0p__neg out0n__neg h1_0_a1__neg h1_1_a1__neg h1_2_a1__neg h1_3_a1__neg xor_net
VTGT0__NEG tref0__neg out0n__neg DC 0
GNUDGE0__NEG out0n__neg out0p__neg tref0__neg out0p__neg -1e-06

.op
.end
