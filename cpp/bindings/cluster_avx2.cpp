// The Peng-Wei and LA-SDP solvers (ridgeline/cluster/nlr.hpp) compiled a second time for AVX2 + FMA.
//
// Not a binding: the build compiles every cpp/bindings/*.cpp into _core, and this
// translation unit must be separate from the baseline one.  The pattern is that of
// spectra_avx2.cpp: GCC's target pragma switches code generation for what is
// defined below it, the __AVX2__-style macros that Eigen reads are defined by hand,
// and everything compiled for AVX2 lives in renamed namespaces (Eigen ->
// ridgeline_eigen_avx2_cluster, ridgeline::cluster -> ridgeline::cluster_avx2), so
// no inline function is shared with the baseline build.  Only the standard-type
// interface of nlr_api.hpp crosses over, and it is called only after the runtime CPU
// check (ridgeline::bind::cpu_has_avx2_fma in cluster.cpp).  Standard headers are
// included before the pragma so that their inline code stays baseline.
#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <cfloat>
#include <climits>
#include <cmath>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <iosfwd>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "ridgeline/cluster/nlr_api.hpp"
#include "ridgeline/common/errors.hpp"
#include "ridgeline/common/parallel.hpp"
#include "ridgeline/common/random.hpp"

#include "avx2_target.hpp"  // after every other include: AVX2 code generation from here on

#ifdef RIDGELINE_AVX2_BUILD
#define Eigen ridgeline_eigen_avx2_cluster
#define cluster cluster_avx2
#define RIDGELINE_CLUSTER_ISA "avx2+fma"
#include "ridgeline/cluster/peng_wei.hpp"
#undef cluster

ridgeline::clusterapi::PengWeiOut ridgeline::clusterapi::peng_wei_avx2(const double* X, long n, long p, int K,
                                                                       int rank, std::uint64_t seed,
                                                                       const NLROptions& opt, const PollFn& poll) {
  return ridgeline::cluster_avx2::peng_wei_flat(X, n, p, K, rank, seed, opt, poll);
}

ridgeline::clusterapi::LAOut ridgeline::clusterapi::la_sdp_avx2(const double* X, long n, long p, const double* covs,
                                                                int K, const double* U0, int rank,
                                                                const NLROptions& opt, const PollFn& poll) {
  return ridgeline::cluster_avx2::la_sdp_flat(X, n, p, covs, K, U0, rank, opt, poll);
}
#else
// Built for AVX2 already (or not GCC on x86-64): the baseline solver is used.
ridgeline::clusterapi::PengWeiOut ridgeline::clusterapi::peng_wei_avx2(const double* X, long n, long p, int K,
                                                                       int rank, std::uint64_t seed,
                                                                       const NLROptions& opt, const PollFn& poll) {
  return peng_wei_baseline(X, n, p, K, rank, seed, opt, poll);
}

ridgeline::clusterapi::LAOut ridgeline::clusterapi::la_sdp_avx2(const double* X, long n, long p, const double* covs,
                                                                int K, const double* U0, int rank,
                                                                const NLROptions& opt, const PollFn& poll) {
  return la_sdp_baseline(X, n, p, covs, K, U0, rank, opt, poll);
}
#endif
