// Nelder-Mead minimisation, deterministic: the simplex starts at x0 and x0 + step along each axis, and
// runs a fixed number of iterations (reflection -1, expansion -2, contractions -+0.5, shrink 0.5).
// Shared by the fits of `uvmsim calibrate` and `uvmsim sm-sharing`.
#pragma once

#include <algorithm>
#include <functional>
#include <vector>

namespace uvmsim {

inline std::vector<double> nelder_mead(const std::function<double(const std::vector<double>&)>& f,
                                       const std::vector<double>& x0, const std::vector<double>& step,
                                       int iterations, double* best_value = nullptr) {
  const size_t n = x0.size();
  std::vector<std::vector<double>> x(n + 1, x0);
  for (size_t i = 0; i < n; ++i) x[i + 1][i] += step[i];
  std::vector<double> fx(n + 1);
  for (size_t i = 0; i <= n; ++i) fx[i] = f(x[i]);
  for (int it = 0; it < iterations && n > 0; ++it) {
    std::vector<size_t> idx(n + 1);
    for (size_t i = 0; i <= n; ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return fx[a] < fx[b]; });
    std::vector<std::vector<double>> xs;
    std::vector<double> fs;
    for (size_t i : idx) {
      xs.push_back(x[i]);
      fs.push_back(fx[i]);
    }
    x = xs;
    fx = fs;
    std::vector<double> c(n, 0.0);
    for (size_t i = 0; i < n; ++i)
      for (size_t d = 0; d < n; ++d) c[d] += x[i][d] / double(n);
    auto along = [&](double t) {
      std::vector<double> v(n);
      for (size_t d = 0; d < n; ++d) v[d] = c[d] + t * (x[n][d] - c[d]);
      return v;
    };
    auto xr = along(-1.0);
    double fr = f(xr);
    if (fr < fx[0]) {
      auto xe = along(-2.0);
      double fe = f(xe);
      if (fe < fr)
        x[n] = xe, fx[n] = fe;
      else
        x[n] = xr, fx[n] = fr;
    } else if (fr < fx[n - 1]) {
      x[n] = xr, fx[n] = fr;
    } else {
      auto xc = along(fr < fx[n] ? -0.5 : 0.5);
      double fc = f(xc);
      if (fc < std::min(fr, fx[n])) {
        x[n] = xc, fx[n] = fc;
      } else {
        for (size_t i = 1; i <= n; ++i) {
          for (size_t d = 0; d < n; ++d) x[i][d] = x[0][d] + 0.5 * (x[i][d] - x[0][d]);
          fx[i] = f(x[i]);
        }
      }
    }
  }
  const size_t best = size_t(std::min_element(fx.begin(), fx.end()) - fx.begin());
  if (best_value) *best_value = fx[best];
  return x[best];
}

}  // namespace uvmsim
