// Interactive cycle driver for a Verilated design with packed ports (see __init__.py beside this
// file; the record layout is the one of harness.cpp).
//
// The caller sends batches on stdin and reads one answer per batch on stdout:
//   batch:  uint32 K, uint32 N (little endian), then K input records of IN_BYTES
//   answer: uint32 M, then M output records of OUT_BYTES, then one more (the last cycle's)
// The model runs N cycles (N >= K is raised to K): cycle i applies input record i for i < K and
// an all-zero record after. The M records are those of the cycles whose output record has bit 0
// of its first byte set (the design's "keep" flag); the last record is the output of the last
// cycle, whatever its flag. A record is taken after the inputs settle and before the clock edge.
// The model keeps its state from batch to batch; end of input ends the driver.

#include <cstdint>
#include <cstdio>
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

int main() {
    VerilatedContext ctx;
    Vtop top{&ctx};
    top.clk = 0;
    top.rst = 1;
    top.eval();
    for (int i = 0; i < 2; i++) {
        top.clk = 1; top.eval(); top.clk = 0; top.eval();
    }
    top.rst = 0;
    std::vector<uint8_t> in, out, zero(IN_BYTES, 0);
    uint8_t rec[OUT_BYTES];
    for (;;) {
        uint32_t head[2];
        if (std::fread(head, sizeof(uint32_t), 2, stdin) != 2) break;
        uint32_t k = head[0], n = head[1] < head[0] ? head[0] : head[1];
        in.resize(static_cast<std::size_t>(k) * IN_BYTES);
        if (k && std::fread(in.data(), IN_BYTES, k, stdin) != k) return 1;
        out.clear();
        for (uint32_t i = 0; i < n; i++) {
            // the falling edge and the cycle's inputs in one evaluation (nothing acts on the
            // falling edge): two evaluations per cycle, not three
            put(top.vin, i < k ? &in[static_cast<std::size_t>(i) * IN_BYTES] : zero.data());
            top.clk = 0; top.eval();
            get(top.vout, rec);
            if (rec[0] & 1) out.insert(out.end(), rec, rec + OUT_BYTES);
            top.clk = 1; top.eval();
        }
        uint32_t m = static_cast<uint32_t>(out.size() / OUT_BYTES);
        if (std::fwrite(&m, sizeof m, 1, stdout) != 1) return 1;
        if (m && std::fwrite(out.data(), OUT_BYTES, m, stdout) != m) return 1;
        if (std::fwrite(rec, OUT_BYTES, 1, stdout) != 1) return 1;
        std::fflush(stdout);
    }
    top.final();
    return 0;
}
