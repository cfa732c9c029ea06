* kiraz_case1: Two inputs, bias, 2 diode neurons, one doubled output; learn output = 1 V.
* Conductance of every crossbar cell (S): g_<crossbar>_<row>_<col>; shared by every network copy.
* A listing for reading: no netlist includes this file.  cells.sp writes the same values as
* numbers (resistor r = 1/g in Ohm, memristor g0 = g in S), since a simulator that parses one
* parameter per cell of a large chip takes minutes to load it.
.param g_W01_0_0=3.5591081235012835e-05
.param g_W01_0_1=5.752318481629676e-05
.param g_W01_1_0=1.7207980635981685e-05
.param g_W01_1_1=5.743247235686219e-05
.param g_B1_0_0=2.559157260052427e-05
.param g_B1_1_0=3.1166322448628785e-05
.param g_W12_0_0=5.1385129691022085e-05
.param g_W12_0_1=3.045995681845806e-05
.param g_W12_1_0=3.747968438365297e-05
.param g_W12_1_1=1.1377955662153418e-05
.param g_B2_0_0=4.767565543374032e-05
.param g_B2_1_0=3.690716566096391e-05
