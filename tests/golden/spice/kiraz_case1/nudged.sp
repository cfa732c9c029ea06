* kiraz_case1: Two inputs, bias, 2 diode neurons, one doubled output; learn output = 1 V.
* Nudged phase: the free circuit plus I = beta*(t - (V(out+) - V(out-))) into each output pair
* (VTGT<j> dc = target t in V, GNUDGE<j> gain = beta in S; alter gain to -beta for the -beta phase).
.include cells.sp

.options klu reltol=1e-06 vntol=1e-09 abstol=1e-15 gmin=1e-12 itl1=200
.options temp=27.0 tnom=27.0

* sources (V): inputs (0 V here; a runner alters them), bias, neuron clamp levels
Vin0 in0 0 DC 0
Vin1 in1 0 DC 0
Vbias_p bias_p 0 DC 1.0
Vnrn_hi nrn_hi 0 DC 0.5
Vnrn_lo nrn_lo 0 DC -0.5

* network copy pos
XNET in0 in1 bias_p nrn_hi nrn_lo h1_0 h1_1 out0p out0n h1_0_a1 h1_1_a1 kiraz_case1_net
VTGT0 tref0 out0n DC 0
GNUDGE0 out0n out0p tref0 out0p 1e-06

.op
.end
