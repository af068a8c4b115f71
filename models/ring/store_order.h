// The order in which the ring core's driver side stores a list's
// descriptors, as a documented property: fault injection (sim/faults)
// corrupts "the Nth flags store of add()", and must name the right
// descriptor. A change to add()'s store order changes this function in the
// same commit (testbench/ring/store_order_test.cpp holds both to it).
#pragma once

#include "models/ring/virtqueue.h"

namespace virtiosim::ring {

// How many descriptor-flags stores of one add() of a list of `n`
// descriptors come before the store of descriptor `i`'s flags (0-based in
// list order, 0 = the head).
//   packed: the descriptors after the head first, in list order, then the
//           head's flags last: that store makes the list available (P2);
//   split:  in list order; the avail ring entry publishes the list.
constexpr unsigned flags_stores_before(RingLayout layout, unsigned i, unsigned n) {
  if (layout == RingLayout::split) return i;
  return i == 0 ? n - 1 : i - 1;
}

}  // namespace virtiosim::ring
