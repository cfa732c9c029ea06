* xor: XOR, 2 doubled inputs, 4 diode neurons, one doubled output.
* Conductance of every crossbar cell (S): g_<crossbar>_<row>_<col>; shared by every network copy.
* A listing for reading: no netlist includes this file.  cells.sp writes the same values as
* numbers (resistor r = 1/g in Ohm, memristor g0 = g in S), since a simulator that parses one
* parameter per cell of a large chip takes minutes to load it.
.param g_W01_0_0=6.405920704482397e-05
.param g_W01_0_1=2.770888466262316e-05
.param g_W01_0_2=5.056378869683273e-06
.param g_W01_0_3=2.63623591732438e-06
.param g_W01_1_0=8.151375368082697e-05
.param g_W01_1_1=9.136280215049445e-05
.param g_W01_1_2=6.10569418009508e-05
.param g_W01_1_3=7.322015953741584e-05
.param g_W01_2_0=5.481887415507686e-05
.param g_W01_2_1=9.357216995498905e-05
.param g_W01_2_2=8.176950185803168e-05
.param g_W01_2_3=1.2711115168446613e-06
.param g_W01_3_0=8.588302338216936e-05
.param g_W01_3_1=4.324971955240971e-06
.param g_W01_3_2=7.323588919656446e-05
.param g_W01_3_3=1.8389906439653344e-05
.param g_B1_0_0=8.645471331263877e-05
.param g_B1_0_1=5.4604660804660076e-05
.param g_B1_1_0=3.0671477163201094e-05
.param g_B1_1_1=4.284603489856818e-05
.param g_B1_2_0=3.8036474434008335e-06
.param g_B1_2_1=1.330404437345683e-05
.param g_B1_3_0=6.73918170546694e-05
.param g_B1_3_1=6.507176164585075e-05
.param g_W12_0_0=6.192312603664413e-05
.param g_W12_0_1=3.8984077871926455e-05
.param g_W12_0_2=9.972378364313188e-05
.param g_W12_0_3=9.810269853884676e-05
.param g_W12_1_0=6.886865646358876e-05
.param g_W12_1_1=6.53954683505138e-05
.param g_W12_1_2=6.915622632652306e-05
.param g_W12_1_3=3.950322097393127e-05
.param g_B2_0_0=1.437455399721871e-05
.param g_B2_0_1=7.242734567921408e-05
.param g_B2_1_0=5.301007792509686e-05
.param g_B2_1_1=3.1713945680336604e-05
