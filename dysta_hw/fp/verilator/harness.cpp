// Cycle driver for a Verilated floating-point bundle (see __init__.py beside this file).
//
// The model has a packed input port `vin` (IN_BYTES bytes, little endian) and a packed
// output port `vout` (OUT_BYTES bytes), plus `clk` and `rst` when HAS_CLK is 1. Each cycle
// the driver applies one input record, lets the logic settle, writes `vout` as one output
// record and then clocks the model, so the output of a unit with latency L for input
// record i appears in output record i + L.
//
// Usage:
//   harness              input records on stdin, output records on stdout
//   harness --count S N  inputs are the integers S, S+1, ..., S+N-1 (IN_BYTES <= 8)

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "Vtop.h"
#include "verilated.h"

template <typename T>
static void put(T& dst, const uint8_t* src) {
    T v = 0;
    std::memcpy(&v, src, IN_BYTES);
    dst = v;
}
template <std::size_t W>
static void put(VlWide<W>& dst, const uint8_t* src) {
    std::memset(&dst.m_storage[0], 0, sizeof(dst.m_storage));
    std::memcpy(&dst.m_storage[0], src, IN_BYTES);
}
template <typename T>
static void get(const T& src, uint8_t* dst) {
    T v = src;
    std::memcpy(dst, &v, OUT_BYTES);
}
template <std::size_t W>
static void get(const VlWide<W>& src, uint8_t* dst) {
    std::memcpy(dst, &src.m_storage[0], OUT_BYTES);
}

int main(int argc, char** argv) {
    VerilatedContext ctx;
    Vtop top{&ctx};
    bool counting = argc == 4 && std::strcmp(argv[1], "--count") == 0;
    uint64_t next = counting ? std::strtoull(argv[2], nullptr, 0) : 0;
    uint64_t left = counting ? std::strtoull(argv[3], nullptr, 0) : 0;
#if HAS_CLK
    top.clk = 0;
    top.rst = 1;
    top.eval();
    for (int i = 0; i < 2; i++) {
        top.clk = 1; top.eval(); top.clk = 0; top.eval();
    }
    top.rst = 0;
#endif
    const std::size_t chunk = 1 << 16;
    std::vector<uint8_t> in(chunk * IN_BYTES), out(chunk * OUT_BYTES);
    for (;;) {
        std::size_t n;
        if (counting) {
            n = left < chunk ? left : chunk;
            for (std::size_t i = 0; i < n; i++) {
                uint64_t v = next + i;
                std::memcpy(&in[i * IN_BYTES], &v, IN_BYTES);
            }
            next += n;
            left -= n;
        } else {
            n = std::fread(in.data(), IN_BYTES, chunk, stdin);
        }
        if (n == 0) break;
        for (std::size_t i = 0; i < n; i++) {
            put(top.vin, &in[i * IN_BYTES]);
            top.eval();
            get(top.vout, &out[i * OUT_BYTES]);
#if HAS_CLK
            top.clk = 1; top.eval(); top.clk = 0; top.eval();
#endif
        }
        if (std::fwrite(out.data(), OUT_BYTES, n, stdout) != n) return 1;
    }
    top.final();
    return 0;
}
