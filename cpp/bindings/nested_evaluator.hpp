// The evaluator of the nested sampler's bindings: turns a batch of unit-cube
// points into physical points and log-likelihoods through a built-in C++
// problem, a C function pointer (on a persistent thread pool when n_threads >
// 1), or scalar / vectorised Python callables (taking the GIL back for them).
#pragma once

#include "common.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gil.hpp"
#include "ridgeline/common/thread_pool.hpp"
#include "ridgeline/nested/problems.hpp"
#include "ridgeline/nested/sampler.hpp"

namespace ridgeline::bind {

using CLogLike = double (*)(const double*, std::int64_t, void*);

enum class TKind { affine, py_scalar, py_vector };
enum class LKind { unset, builtin, cfunc, py_scalar, py_vector };

class NestedEvaluator final : public ridgeline::nested::Evaluator {
 public:
  int d = 1;
  TKind tkind = TKind::affine;
  std::vector<double> lo, scale;
  py::object tfn;
  LKind lkind = LKind::unset;  // a run before set_loglike_* is an error (no default problem)
  ridgeline::nested::BuiltinProblem problem;
  CLogLike cfn = nullptr;
  void* cdata = nullptr;
  py::object lfn;
  PyThreadState* tstate = nullptr;  // set while a run has released the GIL (ReleasedGil)

  bool needs_gil() const {
    return tkind != TKind::affine || lkind == LKind::py_scalar || lkind == LKind::py_vector;
  }
  // Threads for compiled likelihoods on a batch (a persistent pool when > 1).
  void set_threads(int n);
  int threads() const { return nthreads_; }

  void evaluate(const double* u, std::size_t m, double* x, double* logl) override;

 private:
  int nthreads_ = 1;
  std::unique_ptr<ridgeline::ThreadPool> pool_;

  std::string expected_scalar() const;
  void transform_affine(const double* u, std::size_t m, double* x) const;
  void loglike_compiled(const double* x, std::size_t m, double* logl);
  void check_x(const double* x, const double* u, std::size_t m) const;
};

}  // namespace ridgeline::bind
