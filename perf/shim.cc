// shim.cc - the thin C++ layer between vfab's C benchmarks (vf_bench.h) and
// Google Benchmark. Nothing here measures packets; it only adapts the API and
// turns TSC deltas into the cycles_per_packet counter.
#include <benchmark/benchmark.h>
#include <x86intrin.h>

#include <string>
#include <vector>

#include "perf/vf_bench.h"

struct vf_bench_state {
    benchmark::State *st;
    uint64_t items;
    uint64_t tsc_start;
    uint64_t tsc_paused;   // TSC cycles spent paused, subtracted
    uint64_t tsc_pause_at;
    uint64_t tsc_end;
    bool started;
};

namespace {
struct entry {
    std::string name;
    vf_bench_fn fn;
    std::vector<int64_t> args;
};
std::vector<entry> &registry() {
    static std::vector<entry> r;
    return r;
}

void run(benchmark::State &st, vf_bench_fn fn) {
    vf_bench_state s{&st, 0, 0, 0, 0, 0, false};
    fn(&s, st.range(0));
    if (s.items > 0 && s.tsc_end > s.tsc_start) {
        st.SetItemsProcessed(static_cast<int64_t>(s.items));
        st.counters["cycles_per_packet"] = benchmark::Counter(
            double(s.tsc_end - s.tsc_start - s.tsc_paused) / double(s.items));
    }
}
}  // namespace

extern "C" void vf_bench_register(const char *name, vf_bench_fn fn,
                                  const int64_t *args, unsigned n) {
    registry().push_back({name, fn, std::vector<int64_t>(args, args + n)});
}

extern "C" bool vf_bench_next(vf_bench_state *s) {
    if (!s->started) {
        s->started = true;
        s->tsc_start = __rdtsc();
    }
    bool more = s->st->KeepRunning();
    if (!more) s->tsc_end = __rdtsc();
    return more;
}

extern "C" void vf_bench_items(vf_bench_state *s, uint64_t n) { s->items += n; }

extern "C" void vf_bench_counter(vf_bench_state *s, const char *name, double v) {
    s->st->counters[name] = v;
}

extern "C" void vf_bench_skip(vf_bench_state *s, const char *why) {
    s->st->SkipWithError(why);
}

extern "C" void vf_bench_pause(vf_bench_state *s) {
    s->tsc_pause_at = __rdtsc();
    s->st->PauseTiming();
}

extern "C" void vf_bench_resume(vf_bench_state *s) {
    s->st->ResumeTiming();
    s->tsc_paused += __rdtsc() - s->tsc_pause_at;
}

int main(int argc, char **argv) {
    for (auto &e : registry()) {
        auto *b = benchmark::RegisterBenchmark(e.name.c_str(), run, e.fn);
        if (e.args.empty())
            b->Arg(0);
        else
            for (int64_t a : e.args) b->Arg(a);
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
