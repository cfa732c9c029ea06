// eqp_code_mem: update-code memory of one crossbar (hand-written, reused by every generated chip).
// One write port and one synchronous read port (read data one clock after the address).  DEPTH
// words of DW bits.  No reset: the contents are undefined until written.  Synthesis maps it to a
// RAM macro (or flip-flops); the controller never writes and reads the same word in one cycle.
`default_nettype none

module eqp_code_mem #(
    parameter integer DEPTH = 4,
    parameter integer AW = 2,
    parameter integer DW = 5
) (
    input  wire          clk,
    input  wire          we,
    input  wire [AW-1:0] waddr,
    input  wire [DW-1:0] wdata,
    input  wire [AW-1:0] raddr,
    output reg  [DW-1:0] rdata
);
    reg [DW-1:0] mem [0:DEPTH-1];

    always @(posedge clk) begin
        if (we) mem[waddr] <= wdata;
        rdata <= mem[raddr];
    end
endmodule

`default_nettype wire
