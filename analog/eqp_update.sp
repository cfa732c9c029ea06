* eqp_update.sp: the peripheral EP update circuit of seed system 2 (simultaneous free/nudged
* copies, fixed conductance step per pulse, no program-and-verify), one instance per crossbar cell.
* Reusable ngspice subcircuits (behavioural B-sources; docs/update_circuit.md):
*
*   eqp_sqdiff  squaring/difference stage: a Gilbert-style four-quadrant multiplier of the
*               difference and the sum of two cell drops; its output current is
*               I(out) = k * (dV1 - dV2) * (dV1 + dV2) = k * (dV1^2 - dV2^2)   (A)
*               with dV1 = V(p1) - V(n1), dV2 = V(p2) - V(n2) (V), k in A/V^2.  The current is pushed
*               into node out, so the stages of several samples of a batch wired to one node sum
*               by Kirchhoff's current law (current-mode accumulation of the batch mean).
*   eqp_load    the accumulation node's transimpedance: a resistor rl (Ohm) to ground, so
*               V(acc) = rl * sum_b I_b (V).
*   eqp_cmp3    ternary comparator with a dead zone (sign-pulse rule without quantisation):
*               x = V(in) + voff;  V(out) = vcode * (u(x - vth) - u(-x - vth))   (V)
*               i.e. +vcode above the dead zone, -vcode below it, 0 inside; vth >= 0 (V) is the
*               dead-zone half width, voff (V) the comparator's input-referred offset.
*   eqp_qcode   flash quantiser (sign-pulse rule with quantisation): the signed pulse count
*               x = V(in) + voff;  V(out) = vcode * sgn(x) * u(|x| - vth) * min(nmax, max(1, floor(|x|/vstep + 1/2)))
*               vstep (V) is the input per pulse, nmax the controller's largest count.
*
* The output V(out)/vcode is the update code the pulse controller consumes: a signed pulse count,
* positive = set pulses (G up).  Scaled so that 1 V at the accumulation node is one conductance
* step, vth is the rule's dead zone (in steps) and vstep = 1 V.

.subckt eqp_sqdiff p1 n1 p2 n2 out k=1e-6
Bsq 0 out I = {k} * ((v(p1) - v(n1)) - (v(p2) - v(n2))) * ((v(p1) - v(n1)) + (v(p2) - v(n2)))
.ends eqp_sqdiff

.subckt eqp_load acc rl=1e6
Rl acc 0 {rl}
.ends eqp_load

.subckt eqp_cmp3 in out vth=0.5 voff=0 vcode=1
Bcmp out 0 V = {vcode} * (u(v(in) + {voff} - {vth}) - u(-(v(in) + {voff}) - {vth}))
.ends eqp_cmp3

.subckt eqp_qcode in out vth=0.5 voff=0 vstep=1 nmax=15 vcode=1
Bq out 0 V = {vcode} * sgn(v(in) + {voff}) * u(abs(v(in) + {voff}) - {vth}) * min({nmax}, max(1, floor(abs(v(in) + {voff}) / {vstep} + 0.5)))
.ends eqp_qcode
