// liburing for Swift. Its helpers are static inline functions, which Swift calls directly.
#ifndef VYRE_CURING_SHIM_H
#define VYRE_CURING_SHIM_H
#include <liburing.h>
#endif
