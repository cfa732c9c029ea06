* random11
* Free phase: sources and one copy of the network, no nudging.
.include cells.sp

.options klu reltol=1e-06 vntol=1e-09 abstol=1e-15 gmin=1e-12 itl1=200
.options temp=27.0 tnom=27.0

* sources (V): inputs (0 V here; a runner alters them), bias, neuron clamp levels
Vin0p in0p 0 DC 0
Vin0n in0n 0 DC 0
Vin1p in1p 0 DC 0
Vin1n in1n 0 DC 0
Vin2p in2p 0 DC 0
Vin2n in2n 0 DC 0
Vbias_p bias_p 0 DC 1.0
Vbias_n bias_n 0 DC -1.0
Vnrn_hi nrn_hi 0 DC 1.0
Vnrn_lo nrn_lo 0 DC 0

* network copy free
XNET in0p in0n in1p in1n in2p in2n bias_p bias_n nrn_hi nrn_lo h1_0 h1_1 h1_2 h2_0 h2_1 out0 out1 h1_0_a1 h1_1_a1 h1_2_a1 h1_0_a2 h1_1_a2 h1_2_a2 h2_0_a1 h2_1_a1 random11_net

.op
.end
