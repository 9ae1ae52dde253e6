// oneDNN's C API (Debian: libdnnl-dev 2.6.3, built on the OpenMP runtime, libgomp). Debian ships
// no dnnl.pc, so the module map links `dnnl` by name, and `gomp` for the OpenMP thread count,
// which oneDNN reads per calling thread. Internal shim, used only by NN's oneDNN convolutions
// (OneDNN.swift).
#ifndef LOCALSGD_CDNNL_SHIM_H
#define LOCALSGD_CDNNL_SHIM_H

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

// DNNL_MEMORY_NONE and DNNL_MEMORY_ALLOCATE are pointer casts: Swift imports neither macro.
static inline void *cdnnl_memory_none(void) { return DNNL_MEMORY_NONE; }
static inline void *cdnnl_memory_allocate(void) { return DNNL_MEMORY_ALLOCATE; }

// From <omp.h>, which is GCC's (not on clang's include path): libgomp's per-thread setting.
void omp_set_num_threads(int);
int omp_get_max_threads(void);

#endif
