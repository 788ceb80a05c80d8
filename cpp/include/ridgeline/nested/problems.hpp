// Built-in test problems with known evidence (plain C++).
//
// Each problem has a box prior x = lo + (hi - lo) u and a log-likelihood; the
// true log evidences live with the Python problem definitions.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "ridgeline/common/errors.hpp"

namespace ridgeline::nested {

enum class ProblemKind { gaussian, shells, eggbox, mixture, correlated };

struct BuiltinProblem {
  ProblemKind kind = ProblemKind::gaussian;
  int ndim = 2;
  std::vector<double> lo, hi;

  static BuiltinProblem make(const std::string& name, int ndim) {
    BuiltinProblem p;
    require(ndim >= 1, "ndim=" + std::to_string(ndim) + " must be >= 1");
    if (name == "gaussian") {
      p.kind = ProblemKind::gaussian;
    } else if (name == "mixture") {
      p.kind = ProblemKind::mixture;
    } else if (name == "correlated") {
      p.kind = ProblemKind::correlated;
    } else if (name == "shells") {
      p.kind = ProblemKind::shells;
      require(ndim == 2, "ndim=" + std::to_string(ndim) + " must be 2 for shells");
    } else if (name == "eggbox") {
      p.kind = ProblemKind::eggbox;
      require(ndim == 2, "ndim=" + std::to_string(ndim) + " must be 2 for eggbox");
    } else {
      require(false, "unknown problem '" + name +
                         "'; expected one of 'gaussian', 'shells', 'eggbox', 'mixture', 'correlated'");
    }
    p.ndim = ndim;
    double a = 0.0, b = 1.0;
    if (p.kind == ProblemKind::shells) {
      a = -6.0;
      b = 6.0;
    } else if (p.kind == ProblemKind::eggbox) {
      b = 10.0 * 3.14159265358979323846;
    }
    p.lo.assign(static_cast<std::size_t>(ndim), a);
    p.hi.assign(static_cast<std::size_t>(ndim), b);
    return p;
  }

  void transform(const double* u, double* x) const {
    for (int i = 0; i < ndim; ++i) x[i] = lo[i] + (hi[i] - lo[i]) * u[i];
  }

  double loglike(const double* x) const {
    constexpr double kLog2Pi = 1.8378770664093454836;
    switch (kind) {
      case ProblemKind::gaussian: {
        // N(0.5, 0.1^2 I), normalised
        double s = 0.0;
        for (int i = 0; i < ndim; ++i) {
          const double r = (x[i] - 0.5) / 0.1;
          s += r * r;
        }
        return -0.5 * s - ndim * (std::log(0.1) + 0.5 * kLog2Pi);
      }
      case ProblemKind::mixture: {
        // 0.5 N(0.25, 0.05^2 I) + 0.5 N(0.75, 0.05^2 I)
        double s1 = 0.0, s2 = 0.0;
        for (int i = 0; i < ndim; ++i) {
          const double r1 = (x[i] - 0.25) / 0.05, r2 = (x[i] - 0.75) / 0.05;
          s1 += r1 * r1;
          s2 += r2 * r2;
        }
        const double a = -0.5 * s1, b = -0.5 * s2;
        const double m = a > b ? a : b;
        return m + std::log(0.5 * std::exp(a - m) + 0.5 * std::exp(b - m)) -
               ndim * (std::log(0.05) + 0.5 * kLog2Pi);
      }
      case ProblemKind::shells: {
        // two Gaussian shells, width 0.1, radius 2, centres (+-3.5, 0)
        const double w = 0.1, r = 2.0;
        const double d1 = std::hypot(x[0] - 3.5, x[1]) - r, d2 = std::hypot(x[0] + 3.5, x[1]) - r;
        const double a = -0.5 * d1 * d1 / (w * w), b = -0.5 * d2 * d2 / (w * w);
        const double m = a > b ? a : b;
        return m + std::log(std::exp(a - m) + std::exp(b - m)) - std::log(w) - 0.5 * kLog2Pi;
      }
      case ProblemKind::correlated: {
        // N(0.5, S), S = s^2 ((1 - rho) I + rho 1 1^T), s = 0.05, rho = 0.9, normalised;
        // S^-1 = (I - rho / (1 + (d - 1) rho) 1 1^T) / (s^2 (1 - rho))
        const double sd = 0.05, rho = 0.9, dd = ndim;
        double ss = 0.0, sum = 0.0;
        for (int i = 0; i < ndim; ++i) {
          const double r = x[i] - 0.5;
          ss += r * r;
          sum += r;
        }
        const double q = (ss - rho / (1.0 + (dd - 1.0) * rho) * sum * sum) / (sd * sd * (1.0 - rho));
        const double logdet = dd * std::log(sd * sd) + (dd - 1.0) * std::log1p(-rho) + std::log1p((dd - 1.0) * rho);
        return -0.5 * q - 0.5 * logdet - 0.5 * dd * kLog2Pi;
      }
      case ProblemKind::eggbox: {
        const double t = 2.0 + std::cos(0.5 * x[0]) * std::cos(0.5 * x[1]);
        return t * t * t * t * t;
      }
    }
    return 0.0;
  }
};

}  // namespace ridgeline::nested
