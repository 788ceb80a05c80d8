// Read-only result classes shared by every binding file: a plain struct whose
// public members become read-only attributes (def_readonly), pickled as the
// tuple of its fields in declaration order, with a short repr and the tuple of
// field names as `_fields`.  Numpy arrays held by a result are marked
// non-writeable, so a result cannot be changed in place either.
//
//   struct Draw { py::array_t<double> u, logl; };
//   ridgeline::bind::result_class<Draw>(m, "Draw", "points drawn above a contour",
//       ridgeline::bind::field("u", &Draw::u, "(m, ndim) unit-cube coordinates"),
//       ridgeline::bind::field("logl", &Draw::logl, "(m,) log-likelihoods"));
#pragma once

#include "common.hpp"

#include <string>
#include <utility>
#include <vector>

namespace ridgeline::bind {

template <class T, class M>
struct Field {
  const char* name;
  M T::*ptr;
  const char* doc;
};

template <class T, class M>
Field<T, M> field(const char* name, M T::*ptr, const char* doc = "") {
  return {name, ptr, doc};
}

// Mark a numpy array non-writeable (other field types are left alone).
template <class M>
void freeze(M&) {}
template <class U, int F>
void freeze(py::array_t<U, F>& a) {
  if (a) py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
}

// A copy of a contiguous buffer as a new, non-writeable numpy array of the given shape.
template <class U>
py::array_t<U> frozen_array(const U* data, std::vector<py::ssize_t> shape) {
  py::array_t<U> a(shape);
  py::ssize_t n = 1;
  for (auto s : shape) n *= s;
  if (n > 0) std::copy(data, data + n, a.mutable_data());
  freeze(a);
  return a;
}
template <class U>
py::array_t<U> frozen_array(const std::vector<U>& v) {
  return frozen_array(v.data(), {static_cast<py::ssize_t>(v.size())});
}

// "Name(a=1.5, b=array(shape=(3, 2)), ...)": scalars by repr, arrays by shape, capped at 300 characters.
inline std::string short_repr(const char* name, const py::object& self, const py::tuple& names) {
  std::string out = std::string(name) + "(";
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string key = py::str(names[i]);
    py::object v = self.attr(names[i]);
    std::string text;
    if (py::isinstance<py::array>(v)) {
      py::array a = py::reinterpret_borrow<py::array>(v);
      text = "array(shape=(";
      for (py::ssize_t k = 0; k < a.ndim(); ++k) text += (k ? ", " : "") + std::to_string(a.shape(k));
      text += a.ndim() == 1 ? ",))" : "))";
    } else if (py::hasattr(v, "_fields")) {
      text = std::string(py::str(py::type::of(v).attr("__name__"))) + "(...)";
    } else {
      text = py::repr(v);
    }
    out += (i ? ", " : "") + key + "=" + text;
  }
  out += ")";
  if (out.size() > 299) out = out.substr(0, 295) + "...)";
  return out;
}

// Define a read-only, picklable result class T with the given fields (T must be default-constructible).
template <class T, class... M>
py::class_<T> result_class(py::handle scope, const char* name, const char* doc, Field<T, M>... fields) {
  py::class_<T> cls(scope, name, doc);
  (cls.def_readonly(fields.name, fields.ptr, fields.doc), ...);
  py::tuple names = py::make_tuple(py::str(fields.name)...);
  cls.attr("_fields") = names;
  cls.def(py::pickle([fields...](const T& t) { return py::make_tuple(t.*(fields.ptr)...); },
                     [fields..., name](const py::tuple& state) {
                       if (state.size() != sizeof...(M))
                         throw std::invalid_argument(std::string("invalid pickled ") + name + ": expected " +
                                                     std::to_string(sizeof...(M)) + " fields, got " +
                                                     std::to_string(state.size()));
                       T t;
                       std::size_t i = 0;
                       ((t.*(fields.ptr) = state[i++].template cast<M>(), freeze(t.*(fields.ptr))), ...);
                       return t;
                     }));
  cls.def("__repr__", [name, names](const py::object& self) { return short_repr(name, self, names); });
  return cls;
}

}  // namespace ridgeline::bind
