"""Golden model: the chip as a nonlinear resistive network (numpy/scipy), and its device model."""
