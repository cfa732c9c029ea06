eqp_code_mem.v
xor_W01_pulse_ctrl.v
xor_B1_pulse_ctrl.v
xor_W12_pulse_ctrl.v
xor_B2_pulse_ctrl.v
xor_pulse_ctrl.v
